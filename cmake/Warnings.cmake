# miroir_warnings: an INTERFACE target carrying the project's warning flags, linked by every
# first-party target (never applied globally, so third-party code is left alone).
option(MIROIR_WARNINGS_AS_ERRORS "Treat compiler warnings as errors" ON)

add_library(miroir_warnings INTERFACE)
target_compile_options(miroir_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Wunused -Woverloaded-virtual -Wdouble-promotion -Wformat=2
  -Wimplicit-fallthrough
  # GCC 12 at -O2 flags Asio's coroutine frames (allocated by aligned_alloc, freed by the
  # frame's own operator delete) as mismatched: a false positive
  $<$<CXX_COMPILER_ID:GNU>:-Wno-mismatched-new-delete>
  $<$<BOOL:${MIROIR_WARNINGS_AS_ERRORS}>:-Werror>)
