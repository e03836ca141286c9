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

std::string hide_secret(std::string_view secret) {
    std::size_t keep = 0;
    const char* mask = "XXX...";
    if (secret.size() >= 30) {
        keep = 5, mask = "XXXXXX...";
    } else if (secret.size() >= 20) {
        keep = 3, mask = "XXXXX...";
    } else if (secret.size() >= 10) {
        keep = 2, mask = "XXXX...";
    }
    // never inside a character
    while (keep < secret.size() && (static_cast<unsigned char>(secret[keep]) & 0xC0) == 0x80) {
        ++keep;
    }
    return std::string(secret.substr(0, keep)) + mask;
}

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
