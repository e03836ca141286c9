#include <array>
#include <cstdio>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <miroir/http/api_keys.hpp>

namespace miroir::http {

namespace {

// The actions `*.get` expands to (Meilisearch's read actions; keys.get is left out so a
// read-only key cannot list the keys).
constexpr std::array<std::string_view, 16> kReadActions = {"search",
                                                           "documents.get",
                                                           "indexes.get",
                                                           "tasks.get",
                                                           "settings.get",
                                                           "stats.get",
                                                           "metrics.get",
                                                           "version",
                                                           "export",
                                                           "experimental.get",
                                                           "network.get",
                                                           "chats.get",
                                                           "chatsSettings.get",
                                                           "webhooks.get",
                                                           "fields.post",
                                                           "dynamicSearchRules.get"};

}  // namespace

std::string derive_key(std::string_view master_key, std::string_view uid) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), master_key.data(), static_cast<int>(master_key.size()),
         reinterpret_cast<const unsigned char*>(uid.data()), uid.size(), mac, &len);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(len * 2);
    for (unsigned i = 0; i < len; ++i) {
        hex += kHex[mac[i] >> 4];
        hex += kHex[mac[i] & 0xf];
    }
    return hex;
}

bool action_allows(const std::vector<std::string>& granted, std::string_view action) {
    const auto family = action.substr(0, action.find('.'));
    for (const auto& g : granted) {
        if (g == "*" || g == action) return true;
        if (g.size() == family.size() + 2 && g.ends_with(".*") && g.starts_with(family)) {
            return true;
        }
        if (g == "*.get") {
            for (auto read : kReadActions) {
                if (read == action) return true;
            }
        }
    }
    return false;
}

}  // namespace miroir::http
