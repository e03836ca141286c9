# Every third-party dependency, found once. All come from Debian 12 packages installed by
# scripts/bootstrap; see DEVELOPERS.md for the list and why each one is here.
find_package(Threads REQUIRED)
find_package(Boost 1.81...<1.82 REQUIRED CONFIG COMPONENTS system url)
find_package(nlohmann_json 3.11 REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(spdlog REQUIRED)
find_package(prometheus-cpp REQUIRED COMPONENTS core)
find_package(OpenSSL REQUIRED)
find_package(simdjson 3 REQUIRED CONFIG)
find_package(SQLite3 REQUIRED)
find_package(ZLIB REQUIRED)
find_package(LibArchive 3.6 REQUIRED)

# Asio and Beast are compiled once in miroir_asio (src/asio_impl.cpp) instead of in every
# translation unit that includes them.
add_library(miroir_asio_config INTERFACE)
target_compile_definitions(miroir_asio_config INTERFACE
  BOOST_ASIO_SEPARATE_COMPILATION BOOST_BEAST_SEPARATE_COMPILATION
  BOOST_ASIO_NO_DEPRECATED)
target_link_libraries(miroir_asio_config INTERFACE Boost::headers Boost::system Threads::Threads)

if(MIROIR_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
