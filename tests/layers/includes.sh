#!/bin/sh
# The layers (CMakeLists.txt, "the layers") are enforced by include paths:
# each folder sees only its own headers and those of the layers it links.
# A quoted include with a path ("../lang/x.h") would get around that, and
# only runtime/jit/ may include LLVM: both are errors here.
# usage: includes.sh SOURCE_DIR
cd "$1" || exit 2
bad=$(grep -rn --include='*.c' --include='*.h' --include='*.re' '#include "[^"]*/' compiler runtime)
llvm=$(grep -rln --include='*.c' --include='*.h' '#include [<"]llvm' compiler runtime | grep -v '^runtime/jit/')
status=0
if [ -n "$bad" ]; then
  echo "includes with a path get around the layers' include directories:"
  echo "$bad"
  status=1
fi
if [ -n "$llvm" ]; then
  echo "only runtime/jit/ may include LLVM headers:"
  echo "$llvm"
  status=1
fi
[ $status -eq 0 ] && echo "layers: every include resolves through the include path"
exit $status
