// Search filters from clients and tenant tokens: the primary-key planner, the attributes a
// filter tests, a tenant or TTL filter ANDed in, and stored shard values read back. Input: a
// filter, used as Meilisearch's string form and, when it is JSON, as its array form.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include <miroir/http/api_error.hpp>
#include <miroir/http/tenant_token.hpp>
#include <miroir/routing/pinned.hpp>
#include <miroir/routing/shard_field.hpp>

namespace {

using json = nlohmann::ordered_json;
using namespace miroir;

void exercise(const json& filter) {
    try {
        routing::pinned_ids(filter, "id");
        routing::filter_attributes(filter);
        const json anded = http::and_filters(filter, routing::unexpired_filter(1700000000));
        // every condition of the client's filter is still there, and the added one
        if (!anded.is_array() && !anded.is_string()) std::abort();
        // null on either side leaves the other
        if (http::and_filters(filter, nullptr) != filter) std::abort();
        if (http::and_filters(nullptr, filter) != filter) std::abort();
    } catch (const http::ApiError&) {
        // a filter Miroir refuses as Meilisearch would: 400 invalid_search_filter
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    exercise(json(text));
    const json parsed = json::parse(text, nullptr, false);
    if (!parsed.is_discarded()) exercise(parsed);

    if (const auto shard = routing::shard_of_value(text)) {
        if (routing::shard_of_value(routing::shard_value(*shard)) != shard) std::abort();
    }
    if (const auto ord = routing::ord_of_value(text)) {
        if (routing::ord_of_value(routing::ord_value(*ord)) != ord) std::abort();
    }
    return 0;
}
