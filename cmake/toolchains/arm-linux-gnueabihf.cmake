# Cross build for arm-linux-gnueabihf with Debian's cross compiler (g++-arm-linux-gnueabihf) and the multiarch
# -dev packages of the dependencies (scripts/cross.sh installs both). Test binaries run under
# qemu-arm (qemu-user): CMake puts it in front of every add_test() command.
#   cmake -S . -B build-arm -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/arm-linux-gnueabihf.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_CXX_COMPILER arm-linux-gnueabihf-g++)
# Multiarch: the target's libraries are in /usr/lib/arm-linux-gnueabihf, its CMake package files in
# /usr/lib/arm-linux-gnueabihf/cmake, and headers in /usr/include (arch-specific ones in
# /usr/include/arm-linux-gnueabihf); the cross compiler searches both include folders.
set(CMAKE_LIBRARY_ARCHITECTURE arm-linux-gnueabihf)
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/arm-linux-gnueabihf/pkgconfig:/usr/share/pkgconfig")
# Programs (ninja, pkg-config, qemu) come from the build machine.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
# The target's dynamic loader and libraries are installed at their multiarch paths, so qemu needs
# no -L sysroot. QEMU_CPU (environment) picks another CPU model, e.g. to run without the ARMv8
# SHA-2 instructions.
find_program(OTA_QEMU qemu-arm REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR "${OTA_QEMU}")
