// Idempotency keys for Meilisearch writes (docs/writes.md, "Idempotency keys").
#pragma once

#include <boost/asio/awaitable.hpp>

#include <miroir/http/message.hpp>
#include <miroir/http/router.hpp>

namespace miroir::fleet {
struct Context;
}

namespace miroir::meili {

// A write with `Idempotency-Key: <k>` runs `next` once per key: a retry with the same key
// and the same request (method, target, body) within `idempotency.ttl_seconds`, from any pod
// sharing the task store, gets the first `202` again and sends nothing to the nodes; a retry
// while the first runs waits for it; the same key with another request is refused (422
// `miroir_idempotency_key_reused`). A write that was not accepted (not 202) leaves no trace.
boost::asio::awaitable<http::Response> idempotent(fleet::Context& ctx, http::Request& request,
                                                  const http::Handler& next);

}  // namespace miroir::meili
