// Document hashes, bucket digests and verdicts for anti-entropy (see digest.hpp).
#include <algorithm>
#include <map>
#include <set>
#include <xxhash.h>

#include <miroir/entropy/digest.hpp>
#include <miroir/routing/placement.hpp>

namespace miroir::entropy {

using json = nlohmann::ordered_json;

namespace {

// Miroir's own fields, left out of a document's hash.
bool miroir_field(const std::string& key) {
    return key == routing::kShardField || key == routing::kOrdField;
}

// A string as JSON text: as it is between quotes when nothing in it needs escaping.
void append_string(const std::string& s, std::string& out) {
    const bool plain = std::none_of(s.begin(), s.end(), [](char c) {
        return c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20;
    });
    if (!plain) {
        out += json(s).dump();
        return;
    }
    out += '"';
    out += s;
    out += '"';
}

// `value` in one canonical text: objects' keys sorted, at every depth.
void canonical(const json& value, std::string& out, bool top) {
    if (value.is_object()) {
        std::vector<const std::string*> keys;
        for (const auto& [key, item] : value.items()) {
            if (!top || !miroir_field(key)) keys.push_back(&key);
        }
        std::sort(keys.begin(), keys.end(),
                  [](const std::string* a, const std::string* b) { return *a < *b; });
        out += '{';
        for (const auto* key : keys) {
            append_string(*key, out);
            out += ':';
            canonical(value.at(*key), out, false);
            out += ',';
        }
        out += '}';
    } else if (value.is_array()) {
        out += '[';
        for (const auto& item : value) {
            canonical(item, out, false);
            out += ',';
        }
        out += ']';
    } else if (value.is_string()) {
        append_string(value.get_ref<const std::string&>(), out);
    } else {
        out += value.dump();
    }
}

std::uint64_t version_digest(const std::string& id, const Version& v) {
    std::uint64_t words[4] = {v.hash, v.ord ? v.ord->stamp : 0, v.ord ? v.ord->position : 0,
                              (v.ord ? 2u : 0u) | (v.placed ? 1u : 0u)};
    const auto seed = XXH3_64bits(words, sizeof words);
    return XXH3_64bits_withSeed(id.data(), id.size(), seed);
}

}  // namespace

std::uint64_t document_hash(const json& document) {
    std::string text;
    canonical(document, text, true);
    return XXH3_64bits(text.data(), text.size());
}

Version version_of(const json& document, std::uint32_t shard) {
    Version v;
    v.hash = document_hash(document);
    const auto field = document.find(routing::kShardField);
    if (field != document.end() && field->is_string()) {
        v.placed = routing::shard_of_value(field->get_ref<const std::string&>()) == shard;
    } else if (field != document.end() && field->is_number_unsigned()) {
        v.placed = field->get<std::uint64_t>() == shard;
    }
    const auto expires = document.find(routing::kExpiresField);
    if (expires != document.end() && expires->is_number()) {
        v.expires = static_cast<std::int64_t>(expires->get<double>());
    }
    const auto ord = document.find(routing::kOrdField);
    if (ord != document.end() && ord->is_string()) {
        v.ord = routing::ord_of_value(ord->get_ref<const std::string&>());
    }
    return v;
}

ShardView::ShardView(std::uint32_t buckets) : digests_(std::max<std::uint32_t>(buckets, 1), 0) {}

std::uint32_t ShardView::bucket_of(std::string_view id) const {
    return static_cast<std::uint32_t>(XXH3_64bits(id.data(), id.size()) % digests_.size());
}

void ShardView::add(const std::string& id, const Version& version) {
    auto [it, inserted] = versions_.emplace(id, version);
    auto& digest = digests_[bucket_of(id)];
    if (!inserted) {  // read twice (a page boundary moved): counted once, as last read
        digest -= version_digest(id, it->second);
        it->second = version;
    }
    digest += version_digest(id, version);
}

Difference compare(const std::vector<const ShardView*>& views) {
    Difference out;
    if (views.size() < 2) return out;
    const auto buckets = views.front()->digests().size();
    std::vector<bool> differs(buckets, false);
    for (std::size_t b = 0; b < buckets; ++b) {
        for (const auto* view : views) {
            if (view->digests()[b] != views.front()->digests()[b]) differs[b] = true;
        }
        if (differs[b]) ++out.buckets;
    }
    if (out.buckets == 0) return out;
    std::set<std::string> ids;
    for (const auto* view : views) {
        for (const auto& [id, version] : view->versions()) {
            if (differs[view->bucket_of(id)]) ids.insert(id);
        }
    }
    out.ids.assign(ids.begin(), ids.end());
    return out;
}

Verdict decide(const std::vector<Holding>& holdings, std::int64_t now) {
    Verdict verdict;
    const auto authoritative = [](const Holding& h) {
        return h.owner && h.version && h.version->placed && h.version->ord;
    };
    std::optional<routing::Ord> newest;
    for (const auto& h : holdings) {
        if (authoritative(h) && (!newest || *h.version->ord > *newest)) newest = h.version->ord;
    }
    std::map<std::uint64_t, std::size_t> holders_of;  // hash → owners holding it at the newest
    for (const auto& h : holdings) {
        if (authoritative(h) && h.version->ord == newest) ++holders_of[h.version->hash];
    }
    const Holding* winner = nullptr;
    for (const auto& h : holdings) {
        if (!authoritative(h) || h.version->ord != newest) continue;
        if (!winner || holders_of[h.version->hash] > holders_of[winner->version->hash]) winner = &h;
    }
    if (winner && winner->version->expires && *winner->version->expires <= now) winner = nullptr;
    for (const auto& h : holdings) {
        if (!h.version) {
            if (winner && h.owner) verdict.write.push_back(h.node);
            continue;
        }
        if (!h.owner || !winner) {
            verdict.remove.push_back(h.node);
        } else if (*h.version != *winner->version) {
            verdict.write.push_back(h.node);
        }
    }
    if (winner && !verdict.write.empty()) verdict.source = winner->node;
    return verdict;
}

}  // namespace miroir::entropy
