// The hits of a federated multi-search from each query's answer, merged as Meilisearch's
// federated search merges them: each hit's ranking becomes a list of weighted values (a run of
// relevancy rules as one score × the query's weight, sort values, vector similarity × weight),
// compared value by value; a document met again in the same index is dropped. Pure, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace miroir::merge {

// One query of a federated search, as the merge needs it.
struct FederatedQuery {
    std::string uid;
    double weight = 1;
    bool show_score = false, show_details = false;
    std::optional<std::string> primary_key;
    bool strip_key = false;             // the primary key was retrieved only to recognize documents
    std::optional<std::string> remote;  // `federationOptions.remote`
    bool skipped = false;               // not run here (a remote's query): no hits
};

// Every query's hits (`results[q]["hits"]`, each in its query's order, with ranking scores and
// details) merged, a document two queries of one index found kept once, cut to the window
// [`from`, `from` + `count`), each with its `_federation` (naming `remote`, the instance's own
// name, when it is given). The hits are moved out of `results`.
nlohmann::ordered_json federated_hits(const std::vector<FederatedQuery>& queries,
                                      std::vector<nlohmann::ordered_json>& results,
                                      std::uint64_t from, std::uint64_t count,
                                      const nlohmann::ordered_json* remote = nullptr);

}  // namespace miroir::merge
