// Asio's TLS (separate compilation), for the connections to Redis over rediss://.
#include <boost/asio/ssl/impl/src.hpp>
