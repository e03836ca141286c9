// What the JSON and the CSV splitters share: Meilisearch's payload errors and its primary-key
// inference (splitter.cpp), and the CSV splitter (csv.cpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <miroir/ingest/splitter.hpp>

namespace miroir::ingest::detail {

Failure malformed(Format format, std::string_view why);
Failure reserved(std::string_view field);
Failure invalid_id(std::string_view raw);
Failure missing_id(std::string_view pk, std::string_view doc);
Failure multiple_ids(std::string_view pk, std::string_view doc);
// Meilisearch's inference: the first document's top-level fields whose lowercase name ends
// with "id"; exactly one must exist.
std::optional<Failure> infer(std::vector<std::string> names, std::string& pk);

void split_csv(std::string& body, const SplitOptions& options, Split& out);

}  // namespace miroir::ingest::detail
