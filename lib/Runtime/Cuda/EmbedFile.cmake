# Writes OUTPUT, a C++ file defining the contents of INPUT as
#   extern "C" const unsigned char NAME[];  extern "C" const size_t NAME##Size;
# cmake -DINPUT=... -DOUTPUT=... -DNAME=... -P EmbedFile.cmake
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" digits)
math(EXPR bytes "${digits} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE "${OUTPUT}" "// Generated from ${INPUT} by EmbedFile.cmake.\n#include <cstddef>\nextern \"C\" {\nalignas(64) extern const unsigned char ${NAME}[] = {\n${body}};\nextern const size_t ${NAME}Size = ${bytes};\n}\n")
