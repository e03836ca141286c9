// The write gate: every document write holds a pass while it takes the topology and reaches
// the nodes; the gate is closed while the rebalancer copies a shard, so that no write lands
// between the copy's read of the source and its write to the new owners (which would let the
// copy overwrite a newer write). Waiting writes resume when it opens. One gate per Miroir;
// every pod follows the shared gate the rebalancer sets in the task store (rebalance.cpp).
#pragma once

#include <cstddef>
#include <mutex>
#include <utility>

#include <boost/asio/awaitable.hpp>

namespace miroir::fleet {

class WriteGate {
  public:
    class Pass {
      public:
        explicit Pass(WriteGate* gate = nullptr) : gate_(gate) {}
        Pass(Pass&& other) noexcept : gate_(std::exchange(other.gate_, nullptr)) {}
        Pass& operator=(Pass&&) = delete;
        ~Pass() {
            if (gate_) gate_->leave();
        }

      private:
        WriteGate* gate_;
    };

    // Waits while the gate is closed, then holds a pass until the Pass is destroyed.
    boost::asio::awaitable<Pass> enter();
    // Closes the gate and waits for the passes held to be given back. Each close is undone
    // by one open; the gate is open when every close was.
    boost::asio::awaitable<void> close();
    void open();

    // Follows the shared gate (one caller, the gate follower): closes without waiting when it
    // is closed and this gate does not follow it closed yet, opens when it is open again.
    void follow(bool closed);
    // No pass is held.
    bool drained();

  private:
    bool try_enter();
    void leave();

    std::mutex mutex_;
    std::size_t closers_ = 0;
    std::size_t inside_ = 0;
    bool following_closed_ = false;
};

}  // namespace miroir::fleet
