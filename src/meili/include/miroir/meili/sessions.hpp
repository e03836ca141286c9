// Read-your-writes sessions (docs/search.md, "Sessions").
#pragma once

#include <optional>

#include <boost/asio/awaitable.hpp>

#include <miroir/http/message.hpp>
#include <miroir/http/router.hpp>

namespace miroir::fleet {
struct Context;
class Fleet;
}  // namespace miroir::fleet

namespace miroir::meili {

// Restricts a read that chooses its replicas through Request::read_avoid to the nodes of
// replica group `group`, when they cover every shard with nodes that are up; false (nothing
// restricted) otherwise.
bool pin_reads(const fleet::Context& ctx, const fleet::Fleet& fleet, http::Request& request,
               int group);

// Tenant affinity (affinity.cpp): the read pinned to the replica group of the request's
// tenant (a trusted X-Miroir-Tenant header, else its tenant token's claim) while that group
// covers every shard with nodes that are up; the group, or nullopt when not pinned.
std::optional<int> pin_tenant(fleet::Context& ctx, http::Request& request);

// A Meilisearch write (PipelineOptions::around_write): idempotency keys, then, with
// `X-Miroir-Session`, the accepted write's task recorded as the session's last write.
boost::asio::awaitable<http::Response> around_write(fleet::Context& ctx, http::Request& request,
                                                    const http::Handler& next);

// A Meilisearch read (PipelineOptions::around_read): with `X-Miroir-Session` after a write in
// the session, routed to a replica group that applied it (searches) and, with the `block`
// strategy, waiting until one did, or every group (other reads); `X-Miroir-Session-Group`
// names the group, `X-Miroir-Session-Stale: true` says the wait ended at `max_wait_ms`.
// Throws 400 `miroir_invalid_session` on a malformed header.
boost::asio::awaitable<http::Response> around_read(fleet::Context& ctx, http::Request& request,
                                                   const http::Handler& next);

}  // namespace miroir::meili
