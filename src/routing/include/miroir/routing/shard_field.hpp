// The field that names each stored document's shard: Miroir writes it into every document it
// sends a node and filters by it; clients never see it (pure, no Asio).
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace miroir::routing {

// The name of the field Miroir adds to every stored document.
inline constexpr std::string_view kShardField = "_miroir_shard";
// Fields starting with this prefix are Miroir's; clients may not send them, but for one:
inline constexpr std::string_view kReservedPrefix = "_miroir_";
// A document's expiry (document TTL), stored as Unix seconds; clients may set it (as seconds or
// an RFC 3339 date) and read it back by naming it among the fields to retrieve.
inline constexpr std::string_view kExpiresField = "_miroir_expires_at";
// Expiries are refused from this time on (year 10000, in Unix seconds).
inline constexpr std::int64_t kMaxExpiry = 253402300800;

// The filter that keeps the documents of an index with TTL that have not expired at `now`
// (Unix seconds): no expiry, or a later one.
std::string unexpired_filter(std::int64_t now);
// The filter that selects the documents that expired at or before `now`.
std::string expired_filter(std::int64_t now);

// How a document's shard is stored: a string with one character per decimal digit, each of
// them a separator for Meilisearch's tokenizer (charabia's default separators) and for the
// development node's. Under `searchableAttributes: ["*"]` the field is searchable, so a number
// would match queries for it; this text yields no word, while `=` and `IN` filters still
// compare it. Shards stored as numbers (before this form) are read too.
std::string shard_value(std::uint32_t shard);
// The shard a stored value names (this form or a number's text); nullopt when it names none.
std::optional<std::uint32_t> shard_of_value(std::string_view value);
// A filter expression selecting the documents of `shards`, stored in either form.
std::string shard_filter(const std::vector<std::uint32_t>& shards);

// The field that places each stored document in its index's insertion order. One node lists
// documents, and orders hits that tie on every ranking rule, by internal id: the order in
// which they were first added. Every write stamps its documents with the time it routed them
// and their position in its payload, so that Miroir can interleave the nodes' lists as one
// node would have listed them.
inline constexpr std::string_view kOrdField = "_miroir_ord";

// A document's place: the write's stamp (microseconds, strictly increasing within a Miroir
// process), then its position in the write's payload.
struct Ord {
    std::uint64_t stamp = 0;
    std::uint64_t position = 0;
    auto operator<=>(const Ord&) const = default;
};

// How an Ord is stored: the stamp as exactly 16 digits, then the position, each digit written
// as a separator character as shard values are (the field yields no word to a search).
std::string ord_value(Ord ord);
// The Ord a stored value holds; nullopt when it holds none.
std::optional<Ord> ord_of_value(std::string_view value);
// A client's list of fields to retrieve as a node must get it: with `_miroir_ord`, unless the
// list names every field (`*`) or already has it.
void add_place(std::vector<std::string>& fields);

// A new write's stamp: the clock's microseconds, or one more than the last stamp given.
std::uint64_t next_stamp();

}  // namespace miroir::routing
