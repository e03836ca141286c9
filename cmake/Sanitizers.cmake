# miroir_sanitizers: an INTERFACE target enabling the sanitizers listed in MIROIR_SANITIZE
# (for example "address;undefined" or "thread") on first-party targets.
set(MIROIR_SANITIZE "" CACHE STRING "Sanitizers to enable (address;undefined or thread)")

add_library(miroir_sanitizers INTERFACE)
if(MIROIR_SANITIZE)
  list(JOIN MIROIR_SANITIZE "," _miroir_sanitizers)
  target_compile_options(miroir_sanitizers INTERFACE
    -fsanitize=${_miroir_sanitizers} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(miroir_sanitizers INTERFACE -fsanitize=${_miroir_sanitizers})
endif()
