# Runs a command and checks both how it ended and what it printed:
#   cmake -P tests/check_output.cmake STATUS REGEX COMMAND [ARGS...]
# passes when the command exits with STATUS and its output (stdout and
# stderr together, as CTest's PASS_REGULAR_EXPRESSION sees it) matches
# REGEX, a CMake regular expression, or is exactly the contents of PATH
# when REGEX is FILE:PATH. PASS_REGULAR_EXPRESSION alone ignores
# the exit status: a program that prints its result and then crashes, or
# that LeakSanitizer reports (status 23), would pass.
if(CMAKE_ARGC LESS 6)
  message(FATAL_ERROR "usage: cmake -P check_output.cmake STATUS REGEX COMMAND [ARGS...]")
endif()
# CMAKE_ARGV0..2 are "cmake", "-P" and this script.
set(want_status "${CMAKE_ARGV3}")
set(regex "${CMAKE_ARGV4}")
set(command "")
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(i RANGE 5 ${last})
  list(APPEND command "${CMAKE_ARGV${i}}")
endforeach()

execute_process(COMMAND ${command} RESULT_VARIABLE status OUTPUT_VARIABLE output
                ERROR_VARIABLE output)
# Shown in the test log (ctest --output-on-failure), pass or fail.
message("${output}")

set(failed "")
if(NOT status STREQUAL want_status)
  string(APPEND failed "exit status ${status} (expected ${want_status}); ")
endif()
if(regex MATCHES "^FILE:(.*)$")
  # the whole output, exactly as in the file
  file(READ "${CMAKE_MATCH_1}" want)
  if(NOT output STREQUAL want)
    string(APPEND failed "output differs from ${CMAKE_MATCH_1}")
  endif()
elseif(NOT output MATCHES "${regex}")
  string(APPEND failed "output does not match \"${regex}\"")
endif()
if(failed)
  # the JIT mode, which the tests run in both, is part of how it ran
  if(DEFINED ENV{NS_JIT})
    string(APPEND failed " (NS_JIT=$ENV{NS_JIT})")
  endif()
  message(FATAL_ERROR "check_output: ${failed}")
endif()
