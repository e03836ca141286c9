// API keys across the fleet. A key created through Miroir is created with one uid on every
// node; Miroir answers with the value Meilisearch derives from that uid and Miroir's own master
// key, and enforces the key's actions, indexes and expiry itself (it talks to the nodes with
// the node master key). The nodes hold the keys; Miroir keeps a copy to check requests against.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace miroir::fleet {

// What a key grants, as the nodes store it.
struct KnownKey {
    std::string uid;
    std::vector<std::string> actions;
    std::vector<std::string> indexes;
    std::optional<std::chrono::system_clock::time_point> expires_at;
};

class KeyRing {
  public:
    explicit KeyRing(std::string master_key) : master_key_(std::move(master_key)) {}

    // The key's value under Miroir's master key.
    std::string value_of(const std::string& uid) const;
    // The key whose value is `value`.
    std::optional<KnownKey> find(const std::string& value) const;

    // Replaces every known key with a node's GET /keys results.
    void replace(const std::vector<KnownKey>& keys);
    void put(KnownKey key);
    void erase(const std::string& uid);

    // Whether the copy is older than `age` (or was never loaded). A caller about to reload
    // claims the reload; concurrent callers see a fresh copy and do not all reload at once.
    bool claim_reload(std::chrono::milliseconds age);

  private:
    std::string master_key_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, KnownKey> by_value_;
    std::chrono::steady_clock::time_point loaded_at_{};
    bool loaded_ = false;
};

}  // namespace miroir::fleet
