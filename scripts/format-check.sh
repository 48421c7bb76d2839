#!/usr/bin/env bash
# Checks that the C++ sources are formatted as the repository's .clang-format says: runs
# `clang-format --dry-run --Werror` over every .cc and .h file that git tracks under engine/,
# providers/, cli/, bench/ and tests/ (or over the files given as arguments), prints each file
# that would change, and exits 1 if any would. Changes nothing. Registered as the ctest test
# `format_check`. To fix: clang-format -i <files>.
#   CLANG_FORMAT=clang-format-14 scripts/format-check.sh       # another binary
#   scripts/format-check.sh engine/size.cc                      # only these files
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
clang_format=${CLANG_FORMAT:-clang-format}
style="file:$root/.clang-format"  # explicit, so files given from outside the tree use it too

if ! command -v "$clang_format" >/dev/null; then
  echo "format-check: $clang_format not found (scripts/install-deps.sh installs clang-format)" >&2
  exit 1
fi
"$clang_format" --style="$style" --dump-config >/dev/null  # a broken .clang-format stops here

files=()
if [ $# -gt 0 ]; then
  files=("$@")
elif git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  # Pathspec globs match across directories: engine/*.cc includes engine/a/b.cc.
  while IFS= read -r -d '' f; do
    [ -e "$f" ] && files+=("$f")  # skip files deleted in the work tree but not yet in git
  done < <(git ls-files -z -- {engine,providers,cli,bench,tests}/'*.cc' {engine,providers,cli,bench,tests}/'*.h')
else
  # Not a git checkout (a source tarball): the same directories, every file.
  while IFS= read -r -d '' f; do
    files+=("$f")
  done < <(find engine providers cli bench tests -type f \( -name '*.cc' -o -name '*.h' \) -print0 | sort -z)
fi

if [ ${#files[@]} -eq 0 ]; then
  echo "format-check: no files to check" >&2
  exit 1
fi

unformatted=()
for f in "${files[@]}"; do
  if ! "$clang_format" --style="$style" --dry-run --Werror "$f" >/dev/null 2>&1; then
    unformatted+=("$f")
  fi
done

if [ ${#unformatted[@]} -gt 0 ]; then
  echo "format-check: ${#unformatted[@]} of ${#files[@]} file(s) not formatted per .clang-format:"
  printf '  %s\n' "${unformatted[@]}"
  echo "fix with: $clang_format -i <file>..."
  exit 1
fi
echo "format-check: all ${#files[@]} file(s) formatted"
