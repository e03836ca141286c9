// Node answers: Miroir's own fields cut out of a search answer's bytes, and out of the
// attribute lists in a node's error message. Input: a node's answer, or an error message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include <miroir/merge/scrub.hpp>

namespace {

using json = nlohmann::json;

// Whether a member named with the prefix is left in a hit or its _formatted.
bool has_reserved(const json& answer) {
    if (!answer.contains("hits") || !answer["hits"].is_array()) return false;
    for (const auto& hit : answer["hits"]) {
        if (!hit.is_object()) continue;
        for (const auto& [name, value] : hit.items()) {
            if (name.rfind("_miroir_", 0) == 0 && name != "_miroir_expires_at") return true;
        }
    }
    return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const auto scrubbed =
        miroir::merge::scrub_search_answer(text, "_miroir_", "_miroir_expires_at");
    const json before = json::parse(text, nullptr, false);
    if (scrubbed && !before.is_discarded()) {
        // valid JSON stays valid JSON, with the reserved members gone
        const json after = json::parse(*scrubbed, nullptr, false);
        if (after.is_discarded()) std::abort();
        if (has_reserved(after)) std::abort();
    }
    miroir::merge::scrub_error_message(text, "_miroir_");
    return 0;
}
