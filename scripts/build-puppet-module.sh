#!/usr/bin/env bash
# Builds the Puppet module's release tarball, as the Forge and `puppet module install` take it:
# virtconverge-virtconverge-VERSION.tar.gz with one top directory virtconverge-virtconverge-VERSION/
# holding metadata.json, README.md, LICENSE, REFERENCE.md (generated from the types by
# scripts/generate-puppet-reference.rb), lib/, examples/ and checksums.json (the MD5 of every
# other file, as `puppet module build` wrote it and `puppet module changes` reads it). spec/ and
# dotfiles stay out. Puppet 7 no longer has `puppet module build` and PDK is not in Debian, hence
# this script.
#
# Usage: scripts/build-puppet-module.sh [OUTPUT]
#   OUTPUT defaults to build/puppet-module/virtconverge-virtconverge-VERSION.tar.gz. Prints the
#   tarball's path on the last line.
# VERSION is the project's (project(... VERSION ...) in CMakeLists.txt); puppet/metadata.json must
# say the same, or nothing is built. The tarball is reproducible: same sources, same bytes (file
# order, owner, modes and times are fixed; times from $SOURCE_DATE_EPOCH, else the last commit).
# Needs ruby and puppet with the Resource API (scripts/install-deps-puppet.sh), GNU tar, gzip.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

version=$(sed -n 's/^project(virtconverge VERSION \([0-9][0-9.]*\) .*/\1/p' CMakeLists.txt)
[ -n "$version" ] || {
  echo "build-puppet-module.sh: no project(virtconverge VERSION ...) in CMakeLists.txt" >&2
  exit 1
}
metadata_version=$(ruby -rjson -e 'print JSON.parse(File.read(ARGV[0])).fetch("version")' puppet/metadata.json)
if [ "$metadata_version" != "$version" ]; then
  echo "build-puppet-module.sh: puppet/metadata.json has version $metadata_version, the project" \
    "(CMakeLists.txt) $version: set \"version\": \"$version\" in puppet/metadata.json" >&2
  exit 1
fi

name=virtconverge-virtconverge-$version
out=${1:-build/puppet-module/$name.tar.gz}
case $out in /*) ;; *) out=$root/$out ;; esac

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
top=$stage/$name
mkdir "$top"

install -m 0644 puppet/metadata.json "$top/metadata.json"
install -m 0644 puppet/README.md "$top/README.md"
install -m 0644 LICENSE "$top/LICENSE"

# Every regular file under lib/ and examples/, except dotfiles and editor backups. A symlink is an
# error: the Forge rejects tarballs that hold one, and following it would ship files from elsewhere.
for dir in lib examples; do
  while IFS= read -r -d '' path; do
    rel=${path#puppet/}
    if [ -L "$path" ]; then
      echo "build-puppet-module.sh: $path is a symlink; the module must not hold one" >&2
      exit 1
    fi
    case ${rel##*/} in .* | *~ | \#*) continue ;; esac
    [ -f "$path" ] || continue
    install -D -m 0644 "$path" "$top/$rel"
  done < <(find "puppet/$dir" \( -type f -o -type l \) -print0 | sort -z)
done

# From the staged copy, so the reference describes exactly the types that ship.
ruby scripts/generate-puppet-reference.rb --module "$top" --out "$top/REFERENCE.md"

# checksums.json: every file but itself, relative path => MD5, sorted (Puppet's
# Puppet::ModuleTool::Checksums and PDK write the same).
ruby -rjson -rdigest/md5 -e '
  top = ARGV[0]
  files = Dir.glob("**/*", File::FNM_DOTMATCH, base: top).select { |f| File.file?(File.join(top, f)) }.sort
  sums = files.to_h { |f| [f, Digest::MD5.file(File.join(top, f)).hexdigest] }
  File.write(File.join(top, "checksums.json"), "#{JSON.pretty_generate(sums)}\n")
' "$top"

epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
mkdir -p "$(dirname "$out")"
# ustar: the format every tar reader (also the minitar Puppet may unpack with) reads.
tar --create --format=ustar --sort=name --owner=0 --group=0 --numeric-owner \
  --mtime="@$epoch" --mode='u=rwX,go=rX' --directory "$stage" --file - "$name" |
  gzip -9 -n >"$out.tmp"
mv "$out.tmp" "$out"
echo "$out"
