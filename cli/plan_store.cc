#include "cli/plan_store.h"

#include <openssl/rand.h>

#include <algorithm>
#include <ctime>

#include "engine/utc_time.h"

namespace vc::cli {
namespace {

// 128 random bits: an id cannot be guessed, so knowing one is knowing of the plan.
std::string NewId() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    // OpenSSL's generator failing is not recoverable here; a time-based id is still unique.
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    for (std::size_t i = 0; i < sizeof bytes; ++i)
      bytes[i] = static_cast<unsigned char>(now >> ((i % 8) * 8));
  }
  static const char* kHex = "0123456789abcdef";
  std::string id = "p-";
  for (unsigned char b : bytes) {
    id += kHex[b >> 4];
    id += kHex[b & 15];
  }
  return id;
}

}  // namespace

std::string_view PlanStatusName(PlanStatus status) {
  switch (status) {
    case PlanStatus::kPlanned:
      return "planned";
    case PlanStatus::kApplying:
      return "applying";
    case PlanStatus::kApplied:
      return "applied";
    case PlanStatus::kFailed:
      return "failed";
    case PlanStatus::kRefused:
      return "refused";
  }
  return "?";
}

std::string PlanStore::Add(Json plan, std::string text) {
  std::lock_guard<std::mutex> lock(mutex_);
  while (plans_.size() >= capacity_) {
    auto oldest = plans_.end();
    for (auto it = plans_.begin(); it != plans_.end(); ++it) {
      if (it->second.record.status == PlanStatus::kApplying) continue;
      if (oldest == plans_.end() || it->second.sequence < oldest->second.sequence) oldest = it;
    }
    if (oldest == plans_.end()) break;  // every plan applying: keep them all
    plans_.erase(oldest);
  }
  Entry entry;
  entry.record.id = NewId();
  entry.record.created = Rfc3339UtcNow();
  entry.record.plan = std::move(plan);
  entry.record.text = std::move(text);
  entry.sequence = next_sequence_++;
  std::string id = entry.record.id;
  plans_.emplace(id, std::move(entry));
  return id;
}

std::optional<PlanRecord> PlanStore::Get(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = plans_.find(id);
  if (it == plans_.end()) return std::nullopt;
  return it->second.record;
}

std::vector<PlanStore::Summary> PlanStore::List() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<const Entry*> entries;
  for (const auto& [id, entry] : plans_) entries.push_back(&entry);
  std::sort(entries.begin(), entries.end(),
            [](const Entry* a, const Entry* b) { return a->sequence > b->sequence; });
  std::vector<Summary> out;
  for (const Entry* e : entries) {
    const PlanRecord& r = e->record;
    out.push_back({r.id, r.created, r.status, r.plan.value("applyable", false),
                   r.plan.value("summary", Json::object())});
  }
  return out;
}

std::size_t PlanStore::Size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return plans_.size();
}

bool PlanStore::StartApply(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = plans_.find(id);
  if (it == plans_.end()) return false;
  PlanRecord& r = it->second.record;
  if (r.status != PlanStatus::kPlanned && r.status != PlanStatus::kRefused) return false;
  r.status = PlanStatus::kApplying;
  r.log.clear();
  r.apply = nullptr;
  changed_.notify_all();
  return true;
}

void PlanStore::AppendLog(const std::string& id, const std::string& line) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = plans_.find(id);
  if (it == plans_.end()) return;
  it->second.record.log.push_back(line);
  changed_.notify_all();
}

void PlanStore::Finish(const std::string& id, PlanStatus status, Json apply) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = plans_.find(id);
  if (it == plans_.end() || it->second.record.status != PlanStatus::kApplying) return;
  it->second.record.status = status;
  it->second.record.apply = std::move(apply);
  changed_.notify_all();
}

std::optional<PlanStore::Tail> PlanStore::WaitForLog(const std::string& id, std::size_t from,
                                                     std::chrono::milliseconds wait) const {
  std::unique_lock<std::mutex> lock(mutex_);
  auto ready = [&] {
    auto it = plans_.find(id);
    return it == plans_.end() || it->second.record.log.size() > from ||
           it->second.record.status != PlanStatus::kApplying;
  };
  changed_.wait_for(lock, wait, ready);
  auto it = plans_.find(id);
  if (it == plans_.end()) return std::nullopt;
  const PlanRecord& r = it->second.record;
  Tail tail{{}, r.status, r.apply};
  for (std::size_t i = from; i < r.log.size(); ++i) tail.lines.push_back(r.log[i]);
  return tail;
}

}  // namespace vc::cli
