// Aliases, TTL policies, rolling index families and index layouts in the stored topology. Aliases:
// {"<name>":
// {"targets": [...], "multi": bool, "createdAt", "updatedAt", "history": [{"targets": [...],
// "at"}]}}.
#include <stdexcept>

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

TtlPolicies ttl_from_json(const json& j) {
    TtlPolicies out;
    for (const auto& [uid, p] : j.items()) {
        TtlPolicy policy;
        policy.default_ttl_s = p.value("defaultTtlS", std::int64_t{0});
        policy.sweep_interval_s = p.value("sweepIntervalS", policy.sweep_interval_s);
        policy.max_deletes_per_sweep = p.value("maxDeletesPerSweep", policy.max_deletes_per_sweep);
        policy.enabled = p.value("enabled", true);
        policy.filterable = p.value("filterable", false);
        out.emplace(uid, policy);
    }
    return out;
}

json ttl_to_json(const TtlPolicies& policies) {
    json out = json::object();
    for (const auto& [uid, p] : policies) {
        out[uid] = {{"defaultTtlS", p.default_ttl_s},
                    {"sweepIntervalS", p.sweep_interval_s},
                    {"maxDeletesPerSweep", p.max_deletes_per_sweep},
                    {"enabled", p.enabled},
                    {"filterable", p.filterable}};
    }
    return out;
}

IlmPolicies ilm_from_json(const json& j) {
    IlmPolicies out;
    for (const auto& [name, p] : j.items()) {
        IlmPolicy policy;
        policy.write_alias = p.at("writeAlias").get<std::string>();
        policy.read_alias = p.at("readAlias").get<std::string>();
        policy.pattern = p.at("pattern").get<std::string>();
        if (p.contains("primaryKey") && p["primaryKey"].is_string()) {
            policy.primary_key = p["primaryKey"].get<std::string>();
        }
        policy.max_documents = p.value("maxDocuments", std::uint64_t{0});
        policy.max_age_s = p.value("maxAgeS", std::int64_t{0});
        policy.retain = p.value("retain", std::uint32_t{1});
        policy.check_interval_s = p.value("checkIntervalS", policy.check_interval_s);
        policy.generation = p.value("generation", std::uint64_t{0});
        policy.rolled_at = p.value("rolledAt", std::int64_t{0});
        policy.indexes = p.value("indexes", std::vector<std::string>{});
        out.emplace(name, std::move(policy));
    }
    return out;
}

json ilm_to_json(const IlmPolicies& policies) {
    json out = json::object();
    for (const auto& [name, p] : policies) {
        out[name] = {{"writeAlias", p.write_alias},
                     {"readAlias", p.read_alias},
                     {"pattern", p.pattern},
                     {"primaryKey", p.primary_key ? json(*p.primary_key) : json(nullptr)},
                     {"maxDocuments", p.max_documents},
                     {"maxAgeS", p.max_age_s},
                     {"retain", p.retain},
                     {"checkIntervalS", p.check_interval_s},
                     {"generation", p.generation},
                     {"rolledAt", p.rolled_at},
                     {"indexes", p.indexes}};
    }
    return out;
}

const TtlPolicy* Topology::ttl_of(std::string_view uid) const {
    const auto it = ttl.find(uid);
    return it == ttl.end() || !it->second.enabled || !it->second.filterable ? nullptr : &it->second;
}

const Alias* Topology::alias(std::string_view name) const {
    const auto it = aliases.find(name);
    return it == aliases.end() ? nullptr : &it->second;
}

Layouts layouts_from_json(const json& j) {
    Layouts out;
    for (const auto& [uid, l] : j.items()) {
        IndexLayout layout;
        layout.shards = l.at("shards").get<std::uint32_t>();
        layout.shadow = l.value("shadow", std::string());
        layout.shadow_shards = l.value("shadowShards", std::uint32_t{0});
        layout.phase = l.value("phase", std::string());
        if (layout.shards == 0 || (!layout.shadow.empty() && layout.shadow_shards == 0)) {
            throw std::invalid_argument("the stored topology has a layout without shards");
        }
        out.emplace(uid, layout);
    }
    return out;
}

json layouts_to_json(const Layouts& layouts) {
    json out = json::object();
    for (const auto& [uid, l] : layouts) {
        out[uid] = {{"shards", l.shards},
                    {"shadow", l.shadow},
                    {"shadowShards", l.shadow_shards},
                    {"phase", l.phase}};
    }
    return out;
}

}  // namespace miroir::fleet
