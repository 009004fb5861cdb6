# Cross build for aarch64-linux-gnu with Debian's cross compiler (g++-aarch64-linux-gnu) and the multiarch
# -dev packages of the dependencies (scripts/cross.sh installs both). Test binaries run under
# qemu-aarch64 (qemu-user): CMake puts it in front of every add_test() command.
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# Multiarch: the target's libraries are in /usr/lib/aarch64-linux-gnu, its CMake package files in
# /usr/lib/aarch64-linux-gnu/cmake, and headers in /usr/include (arch-specific ones in
# /usr/include/aarch64-linux-gnu); the cross compiler searches both include folders.
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
# Programs (ninja, pkg-config, qemu) come from the build machine.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
# The target's dynamic loader and libraries are installed at their multiarch paths, so qemu needs
# no -L sysroot. QEMU_CPU (environment) picks another CPU model, e.g. to run without the ARMv8
# SHA-2 instructions.
find_program(OTA_QEMU qemu-aarch64 REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR "${OTA_QEMU}")
