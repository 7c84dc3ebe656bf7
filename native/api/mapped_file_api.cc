// mapFile(path): a file's bytes as an ArrayBuffer over a private mapping, without a copy. The
// data workers leave each batch in a file in /dev/shm (lib/data/shm.ts); the trainer maps it
// instead of receiving it through the IPC channel, which serialises and copies it in pieces.
// The mapping is copy-on-write and outlives the file (the caller may unlink it at once); the
// ArrayBuffer's finaliser unmaps it.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "api/common.h"

using namespace vj;

VJ_BINDING(mapFile) {
  Args a(info, "mapFile");
  const std::string path = a.str(0, "path");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("mapFile: cannot open " + path + ": " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    fail("mapFile: cannot stat " + path + ": " + std::strerror(e));
  }
  const size_t n = (size_t)st.st_size;
  if (n == 0) {
    ::close(fd);
    return Napi::ArrayBuffer::New(info.Env(), 0);
  }
  void* p = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  int e = errno;
  ::close(fd);  // the mapping keeps the file's pages
  if (p == MAP_FAILED) fail("mapFile: cannot map " + path + " (" + std::to_string(n) + " bytes): " + std::strerror(e));
  return Napi::ArrayBuffer::New(
      info.Env(), p, n, [](Napi::Env, void* data, size_t* len) {
        ::munmap(data, *len);
        delete len;
      },
      new size_t(n));
}
