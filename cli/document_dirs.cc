#include "cli/document_dirs.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <system_error>

namespace vc::cli {

std::vector<DocumentFile> ListDocuments(const std::vector<std::string>& directories) {
  namespace fs = std::filesystem;
  std::vector<DocumentFile> out;
  std::set<std::string> seen;
  for (const std::string& directory : directories) {
    std::error_code error;
    for (const fs::directory_entry& entry : fs::directory_iterator(directory, error)) {
      std::error_code status_error;
      // symlink_status: a link is not followed out of the directory.
      if (!fs::is_regular_file(entry.symlink_status(status_error))) continue;
      const std::string name = entry.path().filename().string();
      const std::string ext = entry.path().extension().string();
      if (ext != ".yaml" && ext != ".yml" && ext != ".json") continue;
      if (!seen.insert(name).second) continue;
      out.push_back({name, directory, entry.path().string()});
    }
  }
  std::sort(out.begin(), out.end(),
            [](const DocumentFile& a, const DocumentFile& b) { return a.name < b.name; });
  return out;
}

}  // namespace vc::cli
