//===- Mesh.h - A mesh of ranks: ordered, named axes -------------*- C++
//-*-===//
//
// The one structure of a mesh that the driver (`lmc compile --mesh`), the
// passes (`lmc-shard{mesh=...}`, the model description that
// lmc-export-entry-points writes) and the runtime (which reads that
// description) share: an ordered list of named axes with sizes, listed
// major to minor. World rank r sits at the row-major coordinates of r over
// the axes (the last axis fastest): on `dp=2,tp=2`, rank = dp * 2 + tp.
//
// Its text form is `name=size[,name=size...]`, e.g. `dp=2,tp=2`. Plain C++
// (no LLVM, no MLIR), so that the runtime parses it with the same code.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_SUPPORT_MESH_H
#define LMC_SUPPORT_MESH_H

#include <cstdint>
#include <string>
#include <vector>

namespace lmc {

struct MeshAxis {
  std::string name;
  int64_t size = 1;
};

struct MeshSpec {
  /// Major to minor.
  std::vector<MeshAxis> axes;

  /// The most axes a mesh has: a group of ranks is a bit mask over them.
  static constexpr size_t kMaxAxes = 16;
  /// The most ranks on one axis, and in a mesh: sane bounds well above any
  /// job, so that a mistyped size is an error at compile time.
  static constexpr int64_t kMaxAxisSize = int64_t(1) << 16;
  static constexpr int64_t kMaxDevices = int64_t(1) << 20;

  /// Parses `name=size[,name=size...]` (spaces around the items are
  /// ignored): names are identifiers ([A-Za-z_][A-Za-z0-9_]*), each given
  /// once; sizes are positive integers; at least one axis. Returns false
  /// and sets `error` (one sentence, without the text) otherwise.
  static bool parse(const std::string &text, MeshSpec &mesh,
                    std::string &error) {
    mesh.axes.clear();
    int64_t devices = 1;
    size_t begin = 0;
    while (begin <= text.size()) {
      size_t end = text.find(',', begin);
      if (end == std::string::npos)
        end = text.size();
      std::string item = trim(text.substr(begin, end - begin));
      begin = end + 1;
      if (item.empty()) {
        if (end == text.size() && !mesh.axes.empty())
          break;
        error = "expected axis=size[,axis=size...], e.g. dp=2,tp=2";
        return false;
      }
      size_t eq = item.find('=');
      std::string name = trim(item.substr(0, eq));
      std::string size =
          eq == std::string::npos ? std::string() : trim(item.substr(eq + 1));
      if (!isIdentifier(name)) {
        error = "'" + item + "': the axis name must be an identifier";
        return false;
      }
      int64_t value = 0;
      if (!parseSize(size, value)) {
        error = "'" + item + "': the size must be a positive integer";
        return false;
      }
      if (value > kMaxAxisSize) {
        error = "axis '" + name + "': size " + size + " is above " +
                std::to_string(kMaxAxisSize) + ", the most ranks on one axis";
        return false;
      }
      if (mesh.find(name) >= 0) {
        error = "axis '" + name + "' given twice";
        return false;
      }
      if (mesh.axes.size() == kMaxAxes) {
        error = "a mesh has at most " + std::to_string(kMaxAxes) + " axes";
        return false;
      }
      if (value > kMaxDevices / devices) {
        error = "a mesh has at most " + std::to_string(kMaxDevices) + " ranks";
        return false;
      }
      devices *= value;
      mesh.axes.push_back({name, value});
    }
    return true;
  }

  /// `dp=2,tp=2`.
  std::string str() const {
    std::string text;
    for (const MeshAxis &axis : axes)
      text += (text.empty() ? "" : ",") + axis.name + "=" +
              std::to_string(axis.size);
    return text;
  }

  /// The position of the axis `name`, or -1.
  int find(const std::string &name) const {
    for (size_t i = 0; i < axes.size(); ++i)
      if (axes[i].name == name)
        return static_cast<int>(i);
    return -1;
  }

  /// The size of the axis `name`; 1 for an axis the mesh does not have.
  int64_t sizeOf(const std::string &name) const {
    int i = find(name);
    return i < 0 ? 1 : axes[i].size;
  }

  /// The number of ranks: the product of the sizes.
  int64_t numDevices() const {
    int64_t n = 1;
    for (const MeshAxis &axis : axes)
      n *= axis.size;
    return n;
  }

  /// The number of ranks in a group spanned by the axes of `mask` (bit i:
  /// axis i).
  int64_t groupSize(uint32_t mask) const {
    int64_t n = 1;
    for (size_t i = 0; i < axes.size(); ++i)
      if (mask & (1u << i))
        n *= axes[i].size;
    return n;
  }

  /// The coordinates of world rank `rank`, row-major (last axis fastest).
  std::vector<int64_t> coordsOf(int64_t rank) const {
    std::vector<int64_t> coords(axes.size(), 0);
    for (size_t i = axes.size(); i-- > 0;) {
      coords[i] = rank % axes[i].size;
      rank /= axes[i].size;
    }
    return coords;
  }

  /// The world rank at `coords`.
  int64_t rankOf(const std::vector<int64_t> &coords) const {
    int64_t rank = 0;
    for (size_t i = 0; i < axes.size(); ++i)
      rank = rank * axes[i].size + coords[i];
    return rank;
  }

  /// The index of the rank at `coords` in its group along the axes of
  /// `mask`: row-major over the selected axes, in mesh order.
  int64_t groupIndex(const std::vector<int64_t> &coords, uint32_t mask) const {
    int64_t index = 0;
    for (size_t i = 0; i < axes.size(); ++i)
      if (mask & (1u << i))
        index = index * axes[i].size + coords[i];
    return index;
  }

  /// Which group along the axes of `mask` the rank at `coords` is in: its
  /// coordinates on the other axes, row-major (the colour of an
  /// MPI_Comm_split).
  int64_t groupColor(const std::vector<int64_t> &coords, uint32_t mask) const {
    int64_t color = 0;
    for (size_t i = 0; i < axes.size(); ++i)
      if (!(mask & (1u << i)))
        color = color * axes[i].size + coords[i];
    return color;
  }

  /// The names of the axes of `mask`, joined by "x" ("dp", "dp x tp");
  /// "none" for the empty mask.
  std::string groupName(uint32_t mask) const {
    std::string name;
    for (size_t i = 0; i < axes.size(); ++i)
      if (mask & (1u << i))
        name += (name.empty() ? "" : " x ") + axes[i].name;
    return name.empty() ? "none" : name;
  }

  /// The mask of all axes.
  uint32_t allAxes() const {
    return axes.empty() ? 0u : static_cast<uint32_t>((1u << axes.size()) - 1);
  }

  bool operator==(const MeshSpec &other) const {
    if (axes.size() != other.axes.size())
      return false;
    for (size_t i = 0; i < axes.size(); ++i)
      if (axes[i].name != other.axes[i].name ||
          axes[i].size != other.axes[i].size)
        return false;
    return true;
  }
  bool operator!=(const MeshSpec &other) const { return !(*this == other); }

  static bool isIdentifier(const std::string &name) {
    if (name.empty() || !(isAlpha(name[0]) || name[0] == '_'))
      return false;
    for (char c : name)
      if (!(isAlpha(c) || (c >= '0' && c <= '9') || c == '_'))
        return false;
    return true;
  }

private:
  static bool isAlpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  }
  static std::string trim(const std::string &s) {
    size_t b = s.find_first_not_of(" \t");
    if (b == std::string::npos)
      return "";
    size_t e = s.find_last_not_of(" \t");
    return s.substr(b, e - b + 1);
  }
  static bool parseSize(const std::string &text, int64_t &value) {
    if (text.empty())
      return false;
    value = 0;
    for (char c : text) {
      if (c < '0' || c > '9')
        return false;
      // Saturates: any size above the bounds is refused by the caller.
      value = value > (int64_t(1) << 40) ? value : value * 10 + (c - '0');
    }
    return value >= 1;
  }
};

} // namespace lmc

#endif // LMC_SUPPORT_MESH_H
