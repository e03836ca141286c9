// What reads and writes need to know of each index's settings, kept in memory: the committed
// settings version, the version verified on each node, whether a change is in flight and
// whether writes are frozen. Filled by the two-phase settings code (api/settings_sync.cpp)
// from the task store, where the state itself lives.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace miroir::fleet {

struct SettingsView {
    std::uint64_t version = 0;                 // 0: none committed yet
    std::vector<std::uint64_t> node_versions;  // by node position; 0: never verified
    bool pending = false;                      // a change proposed, not yet verified
    bool frozen = false;                       // a node could not be repaired

    // Every node holds the committed settings and no change is in flight.
    bool consistent() const {
        if (pending) return false;
        for (auto v : node_versions) {
            if (v != version) return false;
        }
        return true;
    }
};

class SettingsVersions {
  public:
    std::optional<SettingsView> get(const std::string& uid) const {
        std::lock_guard lock(mutex_);
        const auto it = views_.find(uid);
        if (it == views_.end()) return std::nullopt;
        return it->second;
    }
    // Replaces what is known of the index, keeping whether a change is in flight.
    void set(const std::string& uid, SettingsView view) {
        std::lock_guard lock(mutex_);
        auto& slot = views_[uid];
        view.pending = slot.pending;
        slot = std::move(view);
    }
    void set_pending(const std::string& uid, bool pending) {
        std::lock_guard lock(mutex_);
        views_[uid].pending = pending;
    }
    void erase(const std::string& uid) {
        std::lock_guard lock(mutex_);
        views_.erase(uid);
    }

  private:
    mutable std::mutex mutex_;
    std::unordered_map<std::string, SettingsView> views_;
};

}  // namespace miroir::fleet
