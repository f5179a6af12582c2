#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The manual pages against the tools (POSIX sh, TAP output):
#  - the options of every tool's --help (and of every bcastctl command's
#    'bcastctl COMMAND --help') are those of the OPTIONS section of its page
#    (a command's: the .SS named after it in the page's COMMANDS section),
#    and the commands of 'bcastctl --help' are the page's;
#  - every page under man/ passes 'mandoc -T lint -W warning' (a page that
#    is only '.so OTHER' is not linted, mandoc always warns about .so: its
#    target must exist);
#  - every page's .TH names "bcast VERSION", VERSION being the content of
#    the file VERSION at the top of the tree;
#  - 'TOOL --version' prints that version.
#
# Options are read from the help text's option lines (an indented line
# that starts with '-': '-n, --count N', '--json', '--foo=BAR', ... up to
# the description) and from the page source's .TP tags (the line after
# .TP) and .IP tags in those sections.  Nothing is listed here.
#
# BCAST_TOOLS: the built tools (default: build/tools of this tree).
# BCAST_MAN: the pages (default: man/ of this tree).
top=$(cd "$(dirname "$0")/../.." && pwd) || exit 1
T=${BCAST_TOOLS:-$top/build/tools}
MAN=${BCAST_MAN:-$top/man}
TOOLS="bcastctl bcast-pub bcast-sub bcast-bench"
# built where libnats-dev is (tests/check.sh installs it)
[ -x "$T/bcast-bridge" ] && TOOLS="$TOOLS bcast-bridge"
# The extraction must find at least this many options per help text and
# per page section, and in all (each side): fewer means a broken parser.
MIN_SCOPE=3
MIN_TOTAL=60

work=$(mktemp -d "${TMPDIR:-/tmp}/bcast-test-man.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM
tap="$work/tap"
: >"$tap"
n=0
failed=0

ok() {
	n=$((n + 1))
	echo "ok $n - $*" >>"$tap"
}
not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $*" >>"$tap"
}
diag() {	# diag FILE: its lines as TAP comments
	sed 's/^/# /' "$1" >>"$tap"
}
note() {
	echo "# $*" >>"$tap"
}

# ---- extraction ----

# The options of a help text (stdin), one a line.
help_options() {
	awk '
	/^[ \t]+-/ {
		line = $0
		match(line, /^[ \t]+/)
		if (RLENGTH > 8)	# a continuation line, not an option
			next
		sub(/^[ \t]+/, "", line)
		# the description starts after two spaces or a tab
		if (match(line, /(  |\t)/))
			line = substr(line, 1, RSTART - 1)
		k = split(line, w, / +/)
		for (i = 1; i <= k; i++) {
			t = w[i]
			if (t == "|" || t == "," || t == "")
				continue
			if (t ~ /^-/) {
				sub(/,$/, "", t)
				sub(/[=[].*$/, "", t)
				if (t ~ /^--?[A-Za-z0-9][-A-Za-z0-9]*$/)
					print t
				continue
			}
			if (t ~ /^[A-Z<[]/)	# an argument: N, BYTES, W,R
				continue
			break			# a short description
		}
	}' | sort -u
}

# The commands of a help text (stdin): the "Commands:" section.
help_commands() {
	awk '
	/^Commands:/ { on = 1; next }
	on && /^[ \t]*$/ { on = 0 }
	on && /^  [a-z]/ { print $1 }' | sort -u
}

# page_options PAGE [COMMAND]: the options of the page's OPTIONS sections,
# or of the .SS COMMAND of its COMMANDS section; one a line.
page_options() {
	awk -v want="${2:-}" '
	function plain(s) {
		gsub(/\\f\[[A-Za-z0-9]*\]/, "", s)
		gsub(/\\f\(../, "", s)
		gsub(/\\f./, "", s)
		gsub(/\\-/, "-", s)
		gsub(/\\&/, "", s)
		gsub(/\\e/, "\\", s)
		return s
	}
	function title(s) {
		sub(/^\.S[HS][ \t]*/, "", s)
		gsub(/"/, "", s)
		return plain(s)
	}
	function options(s,   k, w, i, t) {
		sub(/^\.[A-Za-z]+[ \t]*/, "", s)
		s = plain(s)
		gsub(/["|,()[\]]/, " ", s)
		k = split(s, w, /[ \t]+/)
		for (i = 1; i <= k; i++) {
			t = w[i]
			sub(/=.*$/, "", t)
			if (t ~ /^--?[A-Za-z0-9][-A-Za-z0-9]*$/)
				print t
		}
	}
	/^\.SH/ { sh = toupper(title($0)); ss = ""; tag = 0; next }
	/^\.SS/ { split(title($0), a, /[ \t]+/); ss = a[1]; tag = 0; next }
	/^[.\047]\\"/ { next }
	{
		in_scope = (want == "" && sh ~ /OPTIONS$/) ||
			   (want != "" && sh == "COMMANDS" && ss == want)
	}
	tag { tag = 0; if (in_scope) options($0); next }
	/^\.TP/ { tag = 1; next }
	/^\.IP[ \t]/ { if (in_scope) options($0) }' "$1" | sort -u
}

# The commands a page documents: the .SS titles of its COMMANDS section.
page_commands() {
	awk '
	/^\.SH/ {
		s = $0
		sub(/^\.SH[ \t]*/, "", s)
		gsub(/"/, "", s)
		on = (toupper(s) == "COMMANDS")
		next
	}
	on && /^\.SS/ {
		s = $0
		sub(/^\.SS[ \t]*/, "", s)
		gsub(/"/, "", s)
		gsub(/\\f\[[A-Za-z0-9]*\]|\\f\(..|\\f./, "", s)
		split(s, a, /[ \t]+/)
		print a[1]
	}' "$1" | sort -u
}

# The page of a tool: MAN/manN/TOOL.N, whatever N is.
page_of() {
	for p in "$MAN"/man*/"$1".[1-9]*; do
		[ -f "$p" ] && { echo "$p"; return 0; }
	done
	return 1
}

# A page that is nothing but ".so OTHER" (comments aside): OTHER.
so_target() {
	awk '
	/^[.\047]\\"/ || /^[ \t]*$/ { next }
	{ lines++ }
	lines == 1 && /^\.so[ \t]+[^ \t]+[ \t]*$/ { target = $2; next }
	{ target = "" }
	END { if (lines == 1 && target != "") print target }' "$1"
}

# The fourth argument of the page's .TH line ("bcast X.Y.Z").
th_source() {
	awk '
	/^\.TH[ \t]/ {
		s = $0
		sub(/^\.TH[ \t]+/, "", s)
		k = 0
		while (s != "") {
			if (substr(s, 1, 1) == "\"") {
				s = substr(s, 2)
				e = index(s, "\"")
				if (!e)
					e = length(s) + 1
				arg = substr(s, 1, e - 1)
				s = substr(s, e + 1)
			} else {
				match(s, /^[^ \t]+/)
				arg = substr(s, 1, RLENGTH)
				s = substr(s, RLENGTH + 1)
			}
			sub(/^[ \t]+/, "", s)
			if (++k == 4) {
				print arg
				exit
			}
		}
		exit
	}' "$1"
}

# ---- the version ----

if [ -f "$top/VERSION" ]; then
	version=$(sed -n '1{s/^[[:space:]]*//;s/[[:space:]]*$//;p;}' "$top/VERSION")
	note "version $version (from VERSION)"
else
	version=0.1.0
	note "no VERSION file at the top of the tree: testing against $version"
fi
version_re=$(printf '%s' "$version" | sed 's/[].[\*^$]/\\&/g')

# ---- options: --help against the pages ----

total_help=0
total_page=0

# minus A B: the lines of file A that are not in file B.
minus() {
	awk 'FILENAME == ARGV[1] { seen[$0] = 1; next } !($0 in seen)' "$2" "$1" |
		sort
}

# compare LABEL HELPFILE PAGEFILE PAGE: one result, naming every option
# one side has and the other lacks.
# (POSIX sh has no local variables: c_* are compare's.)
compare() {
	c_label=$1 c_hf=$2 c_pf=$3 c_page=${4#"$MAN"/}
	nh=$(wc -l <"$c_hf" | tr -d ' ')
	np=$(wc -l <"$c_pf" | tr -d ' ')
	total_help=$((total_help + nh))
	total_page=$((total_page + np))
	if [ "$nh" -lt "$MIN_SCOPE" ] || ! grep -qx -- --help "$c_hf" ||
	   [ "$np" -lt "$MIN_SCOPE" ] || ! grep -qx -- --help "$c_pf"; then
		not_ok "$c_label: the extraction found $nh options in --help and $np in $c_page (at least $MIN_SCOPE and --help expected: parser broken?)"
		return
	fi
	minus "$c_hf" "$c_pf" >"$work/only-help"
	minus "$c_pf" "$c_hf" >"$work/only-page"
	if [ -s "$work/only-help" ] || [ -s "$work/only-page" ]; then
		msg=$(awk -v page="$c_page" '
			FILENAME == ARGV[1] { w = " is in --help but not in " page }
			FILENAME != ARGV[1] { w = " is in " page " but not in --help" }
			{ m = m sep $0 w; sep = "; " }
			END { print m }' "$work/only-help" "$work/only-page")
		not_ok "$c_label: $msg"
		return
	fi
	ok "$c_label: --help and $c_page have the same $nh options"
}

for tool in $TOOLS; do
	bin="$T/$tool"
	page=$(page_of "$tool") || page=
	if [ ! -x "$bin" ]; then
		not_ok "$tool: no program $bin (build the tools, or set BCAST_TOOLS)"
		continue
	fi
	if [ -z "$page" ]; then
		not_ok "$tool: no page $MAN/man*/$tool.N"
		continue
	fi
	if ! "$bin" --help >"$work/help" 2>&1 </dev/null; then
		not_ok "$tool --help exits 0"
		diag "$work/help"
		continue
	fi
	help_options <"$work/help" >"$work/help-opts"
	page_options "$page" >"$work/page-opts"
	compare "$tool" "$work/help-opts" "$work/page-opts" "$page"

	help_commands <"$work/help" >"$work/help-cmds"
	page_commands "$page" >"$work/page-cmds"
	if [ -s "$work/help-cmds" ] || [ -s "$work/page-cmds" ]; then
		if cmp -s "$work/help-cmds" "$work/page-cmds"; then
			ok "$tool: --help and ${page#"$MAN"/} have the same commands ($(tr '\n' ' ' <"$work/help-cmds" | sed 's/ $//'))"
		else
			not_ok "$tool: commands differ: --help has '$(tr '\n' ' ' <"$work/help-cmds" | sed 's/ $//')', the .SS of COMMANDS in ${page#"$MAN"/} '$(tr '\n' ' ' <"$work/page-cmds" | sed 's/ $//')'"
		fi
	fi
	sort -u "$work/help-cmds" "$work/page-cmds" >"$work/cmds"
	while read -r cmd; do
		if ! "$bin" "$cmd" --help >"$work/help" 2>&1 </dev/null; then
			not_ok "$tool $cmd --help exits 0"
			diag "$work/help"
			continue
		fi
		help_options <"$work/help" >"$work/help-opts"
		page_options "$page" "$cmd" >"$work/page-opts"
		compare "$tool $cmd" "$work/help-opts" "$work/page-opts" "$page"
	done <"$work/cmds"
done

if [ "$total_help" -lt "$MIN_TOTAL" ] || [ "$total_page" -lt "$MIN_TOTAL" ]; then
	not_ok "the extraction found $total_help options in the help texts and $total_page in the pages (at least $MIN_TOTAL each expected: parser broken?)"
else
	ok "the extraction found $total_help options in the help texts and $total_page in the pages"
fi

# ---- every page: mandoc, the version ----

pages=0
have_mandoc=1
command -v mandoc >/dev/null 2>&1 || have_mandoc=0
[ "$have_mandoc" = 1 ] ||
	not_ok "mandoc is not installed (apt-get install mandoc): the pages are not linted"
for path in "$MAN"/man*/*.[1-9]*; do
	[ -f "$path" ] || continue
	pages=$((pages + 1))
	rel=${path#"$MAN"/}
	target=$(so_target "$path")
	if [ -n "$target" ]; then
		# mandoc resolves .so against the directory it runs in: man/
		if [ -f "$MAN/$target" ]; then
			ok "$rel: .so $target exists"
		else
			not_ok "$rel: .so $target: no such page in ${MAN#"$top"/}/"
		fi
		continue
	fi
	if [ "$have_mandoc" = 1 ]; then
		(cd "$MAN" && mandoc -T lint -W warning "$rel") >"$work/lint" 2>&1
		st=$?
		if [ "$st" -eq 0 ] && [ ! -s "$work/lint" ]; then
			ok "$rel: mandoc -T lint -W warning is silent"
		else
			not_ok "$rel: mandoc -T lint -W warning (exit $st)"
			diag "$work/lint"
		fi
	fi
	th=$(th_source "$path")
	if [ "$th" = "bcast $version" ]; then
		ok "$rel: .TH says \"bcast $version\""
	else
		not_ok "$rel: .TH says \"$th\", not \"bcast $version\""
	fi
done
if [ "$pages" -eq 0 ]; then
	not_ok "no pages in $MAN"
fi

# ---- --version ----

for tool in $TOOLS; do
	bin="$T/$tool"
	[ -x "$bin" ] || continue
	"$bin" --version >"$work/version" 2>&1 </dev/null
	st=$?
	if [ "$st" -eq 0 ] &&
	   grep -Eq "(^|[^0-9.])$version_re([^0-9]|\$)" "$work/version"; then
		ok "$tool --version prints $version"
	else
		not_ok "$tool --version prints $version (exit $st: $(head -n 1 "$work/version"))"
	fi
done

echo "1..$n"
cat "$tap"
echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
