#!/bin/sh
# Writes, on stdout, a C file that defines NAME (const char[]) and NAME_size
# as the bytes of FILE, declared in HEADER: texts built into the program,
# such as the flame graph's script. The file's opening comment, up to its
# first blank line, is left out. Plain POSIX sed and od: nothing to install.
#   tools/embed.sh NAME FILE HEADER > OUT.c
set -eu
name=$1 file=$2 header=$3
echo "/* Generated from $file by tools/embed.sh: do not edit. */"
echo "#include \"$header\""
echo
echo "const char $name[] = {"
sed '1,/^$/d' "$file" | od -A n -t x1 -v | sed -e 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g' -e 's/^/\t/'
echo "};"
echo "const size_t ${name}_size = sizeof($name);"
