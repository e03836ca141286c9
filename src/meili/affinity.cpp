// Tenant affinity (docs/search.md, "Tenant affinity"): the searches of a tenant go to its
// replica group — configured, or by a hash of the tenant — while that group can answer them,
// so that one tenant's load stays on its group.
#include <algorithm>

#include <miroir/config/config.hpp>
#include <miroir/fleet/context.hpp>
#include <miroir/fleet/fleet.hpp>
#include <miroir/http/api_error.hpp>
#include <miroir/meili/sessions.hpp>
#include <miroir/metrics/metrics.hpp>
#include <miroir/routing/placement.hpp>

namespace miroir::meili {

namespace {

constexpr std::size_t kMaxTenant = 128;

// The request's tenant: a trusted header first, then its tenant token's claim.
std::optional<std::string> tenant_of(const fleet::Context& ctx, const http::Request& r) {
    if (ctx.config.tenant_affinity.header) {
        if (const auto header = r.headers.get("X-Miroir-Tenant")) {
            const std::string id(*header);
            const bool visible =
                std::all_of(id.begin(), id.end(), [](char c) { return c > 32 && c < 127; });
            if (id.empty() || id.size() > kMaxTenant || !visible) {
                throw http::ApiError(400, "miroir_invalid_tenant", http::ErrorType::invalid_request,
                                     "`X-Miroir-Tenant` must be 1 to 128 visible ASCII "
                                     "characters.");
            }
            return id;
        }
    }
    return r.tenant;
}

}  // namespace

std::optional<int> pin_tenant(fleet::Context& ctx, http::Request& r) {
    const auto& ta = ctx.config.tenant_affinity;
    if (!ta.enabled) return std::nullopt;
    const auto tenant = tenant_of(ctx, r);
    if (!tenant) return std::nullopt;
    const auto fleet = ctx.fleet();
    const auto& groups = fleet->groups();
    std::optional<int> group;
    std::string label = *tenant;  // configured tenants are labelled by name, the others not
    if (const auto it = ta.groups.find(*tenant); it != ta.groups.end()) {
        group = it->second;
    } else if (ta.fallback == "hash" && !groups.empty()) {
        // the same group on every pod and every version: the shard hash of the tenant
        const auto slot = routing::shard_of(*tenant, static_cast<std::uint32_t>(groups.size()));
        group = groups[slot].id;
        label = "unmapped";
    } else {
        return std::nullopt;
    }
    if (!pin_reads(ctx, *fleet, r, *group)) {
        ctx.metrics.tenant_read(label, "fallback");  // its group cannot answer: any group
        return std::nullopt;
    }
    ctx.metrics.tenant_read(label, std::to_string(*group));
    return group;
}

}  // namespace miroir::meili
