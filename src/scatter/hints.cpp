#include <cstdio>

#include <miroir/scatter/hints.hpp>

namespace miroir::scatter {

using json = nlohmann::ordered_json;

std::string hint_key(const std::string& node, std::int64_t at, std::uint64_t sequence) {
    char stamp[48];
    std::snprintf(stamp, sizeof stamp, "%020lld-%010llu", static_cast<long long>(at),
                  static_cast<unsigned long long>(sequence));
    return node + "/" + stamp;
}

std::string encode(const Hint& hint) {
    json j;
    j["node"] = hint.node;
    j["index"] = hint.index;
    j["ids"] = hint.ids;
    j["filter"] = hint.filter ? *hint.filter : json(nullptr);
    j["all"] = hint.all;
    j["shards"] = hint.shards;
    j["primaryKey"] = hint.primary_key ? json(*hint.primary_key) : json(nullptr);
    j["sources"] = json::array();
    for (const auto& [node, task] : hint.sources) j["sources"].push_back({node, task});
    j["at"] = hint.at;
    return j.dump();
}

std::optional<Hint> decode_hint(const std::string& key, const std::string& text) {
    const auto j = json::parse(text, nullptr, false);
    if (!j.is_object() || !j.value("node", json()).is_string() ||
        !j.value("index", json()).is_string()) {
        return std::nullopt;
    }
    try {
        Hint h;
        h.key = key;
        h.node = j["node"].get<std::string>();
        h.index = j["index"].get<std::string>();
        h.ids = j.value("ids", json::array()).get<std::vector<std::string>>();
        if (!j.value("filter", json()).is_null()) h.filter = j["filter"];
        h.all = j.value("all", false);
        h.shards = j.value("shards", json::array()).get<std::vector<std::uint32_t>>();
        if (j.value("primaryKey", json()).is_string()) h.primary_key = j["primaryKey"];
        for (const auto& s : j.value("sources", json::array())) {
            h.sources.emplace_back(s.at(0).get<std::string>(), s.at(1).get<std::uint64_t>());
        }
        h.at = j.value("at", std::int64_t{0});
        return h;
    } catch (const json::exception&) {
        return std::nullopt;
    }
}

}  // namespace miroir::scatter
