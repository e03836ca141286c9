// Aliases in the stored topology: {"<name>": {"targets": [...], "multi": bool, "createdAt",
// "updatedAt", "history": [{"targets": [...], "at"}]}}.
#include "aliases_json.hpp"

namespace miroir::fleet {

using json = nlohmann::ordered_json;

Aliases aliases_from_json(const json& j) {
    Aliases out;
    for (const auto& [name, a] : j.items()) {
        Alias alias;
        alias.targets = a.at("targets").get<std::vector<std::string>>();
        alias.multi = a.value("multi", false);
        alias.created_at = a.value("createdAt", std::int64_t{0});
        alias.updated_at = a.value("updatedAt", std::int64_t{0});
        for (const auto& f : a.value("history", json::array())) {
            alias.history.push_back(
                {f.at("targets").get<std::vector<std::string>>(), f.value("at", std::int64_t{0})});
        }
        out.emplace(name, std::move(alias));
    }
    return out;
}

json aliases_to_json(const Aliases& aliases) {
    json out = json::object();
    for (const auto& [name, a] : aliases) {
        json history = json::array();
        for (const auto& f : a.history) history.push_back({{"targets", f.targets}, {"at", f.at}});
        out[name] = {{"targets", a.targets},
                     {"multi", a.multi},
                     {"createdAt", a.created_at},
                     {"updatedAt", a.updated_at},
                     {"history", std::move(history)}};
    }
    return out;
}

const Alias* Topology::alias(std::string_view name) const {
    const auto it = aliases.find(name);
    return it == aliases.end() ? nullptr : &it->second;
}

}  // namespace miroir::fleet
