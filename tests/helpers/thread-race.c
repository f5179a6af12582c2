// SPDX-License-Identifier: MIT
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include "thread-race.h"

struct writer_race {
	struct bcast_ring *r;
	int go;				/* the threads start together */
	int ready;
	int rc[RACE_THREADS];
	struct bcast_writer *w[RACE_THREADS];
};

struct writer_racer {
	struct writer_race *race;
	int i;
};

static void *race_for_writer(void *arg)
{
	struct writer_racer *me = arg;
	struct writer_race *race = me->race;

	__atomic_fetch_add(&race->ready, 1, __ATOMIC_ACQ_REL);
	while (!__atomic_load_n(&race->go, __ATOMIC_ACQUIRE))
		;
	race->rc[me->i] = bcast_writer_open(race->r, &race->w[me->i]);
	return NULL;
}

int race_writer_opens(struct bcast_ring *r, int rounds)
{
	struct writer_racer racers[RACE_THREADS];
	pthread_t t[RACE_THREADS];
	struct writer_race race;
	int round, i, bad = 0;

	for (round = 0; round < rounds; round++) {
		int won = 0, busy = 0;

		memset(&race, 0, sizeof(race));
		race.r = r;
		for (i = 0; i < RACE_THREADS; i++) {
			racers[i] = (struct writer_racer){ &race, i };
			if (pthread_create(&t[i], NULL, race_for_writer,
					   &racers[i]))
				return -1;
		}
		while (__atomic_load_n(&race.ready, __ATOMIC_ACQUIRE) <
		       RACE_THREADS)
			;
		__atomic_store_n(&race.go, 1, __ATOMIC_RELEASE);
		for (i = 0; i < RACE_THREADS; i++)
			pthread_join(t[i], NULL);
		for (i = 0; i < RACE_THREADS; i++) {
			won += race.rc[i] == 0;
			busy += race.rc[i] == -EBUSY;
		}
		bad += won != 1 || busy != RACE_THREADS - 1;
		for (i = 0; i < RACE_THREADS; i++) {
			if (race.rc[i])
				continue;
			if (bcast_publish(race.w[i], &round, sizeof(round), 0))
				bad++;
			bcast_writer_close(race.w[i]);
		}
	}
	return bad;
}
