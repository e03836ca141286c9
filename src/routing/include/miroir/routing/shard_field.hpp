// The field that names each stored document's shard: Miroir writes it into every document it
// sends a node and filters by it; clients never see it (pure, no Asio).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace miroir::routing {

// The name of the field Miroir adds to every stored document.
inline constexpr std::string_view kShardField = "_miroir_shard";
// Fields starting with this prefix are Miroir's; clients may not send them.
inline constexpr std::string_view kReservedPrefix = "_miroir_";

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

}  // namespace miroir::routing
