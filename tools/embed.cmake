# Writes OUT, a C source holding every STDLIB_DIR/**/*.ns as a NUL-terminated
# byte array, plus the table declared in stdlib/ns_stdlib.h.
#   cmake -DSTDLIB_DIR=stdlib -DOUT=build/stdlib_embed.c -P tools/embed.cmake
# A module's name is its path below STDLIB_DIR without ".ns", directories
# joined by "::" (stdlib/prelude.ns -> "prelude", stdlib/nn/layers.ns ->
# "nn::layers"), the way `use` names it.
if(NOT STDLIB_DIR OR NOT OUT)
  message(FATAL_ERROR "usage: cmake -DSTDLIB_DIR=DIR -DOUT=FILE.c -P embed.cmake")
endif()

file(GLOB_RECURSE files RELATIVE ${STDLIB_DIR} ${STDLIB_DIR}/*.ns)
list(SORT files)

set(arrays "")
set(entries "")
set(count 0)
foreach(rel IN LISTS files)
  string(REGEX REPLACE "\\.ns$" "" name ${rel})
  string(REPLACE "/" "::" name ${name})
  file(READ ${STDLIB_DIR}/${rel} hex HEX)
  string(LENGTH "${hex}" nhex)
  math(EXPR len "${nhex} / 2")
  # 16 bytes a line: "0x2f, 0x2f, ..." (CMake regexes have no {n})
  string(REGEX REPLACE "(................................)" "\\1\n" bytes "${hex}")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1, " bytes "${bytes}")
  string(REPLACE ", \n" ",\n  " bytes "${bytes}")
  string(APPEND arrays "/* stdlib/${rel} */\nstatic const unsigned char text_${count}[] = {\n  ${bytes}0x00};\n\n")
  string(APPEND entries "  {\"${name}\", (const char *)text_${count}, ${len}u},\n")
  math(EXPR count "${count} + 1")
endforeach()

file(WRITE ${OUT}.tmp
"/* Generated from the .ns files of stdlib/ by tools/embed.cmake; do not edit. */
#include \"ns_stdlib.h\"

${arrays}const NsEmbedded ns_stdlib[] = {
${entries}  {0, 0, 0}};
const int ns_stdlib_count = ${count};
")
file(RENAME ${OUT}.tmp ${OUT})
