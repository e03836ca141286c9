# miroir_warnings: an INTERFACE target carrying the project's warning flags, linked by every
# first-party target (never applied globally, so third-party code is left alone).
option(MIROIR_WARNINGS_AS_ERRORS "Treat compiler warnings as errors" ON)

add_library(miroir_warnings INTERFACE)
target_compile_options(miroir_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Wunused -Woverloaded-virtual -Wdouble-promotion -Wformat=2
  -Wimplicit-fallthrough
  $<$<BOOL:${MIROIR_WARNINGS_AS_ERRORS}>:-Werror>)
