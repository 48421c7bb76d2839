#include "cli/document_dirs.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>
#include <system_error>

namespace vc::cli {
namespace {

// [A-Za-z0-9][A-Za-z0-9_.+-]*, at most 251 characters: what GET /v1/documents/NAME accepts.
bool IsListedName(const std::string& name) {
  if (name.empty() || name.size() > 251 || !std::isalnum(static_cast<unsigned char>(name[0])))
    return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '+' &&
        c != '-')
      return false;
  }
  return true;
}

}  // namespace

std::vector<DocumentFile> ListDocuments(const std::vector<std::string>& directories) {
  namespace fs = std::filesystem;
  std::vector<DocumentFile> out;
  std::set<std::string> seen;
  for (const std::string& directory : directories) {
    std::error_code error;
    // increment(error), not ++: a directory that fails while read ends its listing, not the
    // process.
    for (fs::directory_iterator it(directory, error), end; !error && it != end;
         it.increment(error)) {
      const fs::directory_entry& entry = *it;
      std::error_code status_error;
      // symlink_status: a link is not followed out of the directory.
      if (!fs::is_regular_file(entry.symlink_status(status_error))) continue;
      const std::string name = entry.path().filename().string();
      const std::string ext = entry.path().extension().string();
      if (ext != ".yaml" && ext != ".yml" && ext != ".json") continue;
      if (!IsListedName(name)) continue;  // the API names it in a URL path: plain names only
      if (!seen.insert(name).second) continue;
      out.push_back({name, directory, entry.path().string()});
    }
  }
  std::sort(out.begin(), out.end(),
            [](const DocumentFile& a, const DocumentFile& b) { return a.name < b.name; });
  return out;
}

}  // namespace vc::cli
