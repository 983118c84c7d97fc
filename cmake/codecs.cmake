# The compression libraries behind pcomm_filter (included by the top-level CMakeLists.txt).
# Each PCOMM_WITH_<codec> option that is ON makes its library REQUIRED, checks its minimum
# version here (reliability notes K17, K18: zlib >= 1.2.13, bzip2 >= 1.0.8), and sets:
#   PCOMM_CODEC_SOURCES       lib/ sources to compile
#   PCOMM_CODEC_LIBS          link libraries (PRIVATE)
#   PCOMM_CODEC_DEFINITIONS   PCOMM_HAVE_ZLIB, ...
#   PCOMM_CODEC_INCLUDES      extra include directories
#   PCOMM_PC_REQUIRES_PRIVATE, PCOMM_PC_LIBS_PRIVATE, PCOMM_CMAKE_DEPS for pcomm.pc and
#                             pcommConfig.cmake (static linking)
set(PCOMM_CODEC_SOURCES "")
set(PCOMM_CODEC_LIBS "")
set(PCOMM_CODEC_DEFINITIONS "")
set(PCOMM_CODEC_INCLUDES "")
set(PCOMM_PC_LIBS_PRIVATE "")

function(pcomm_require_version what have want)
  if("${have}" STREQUAL "")
    message(WARNING "could not tell the version of ${what}; pcomm needs >= ${want}")
  elseif("${have}" VERSION_LESS "${want}")
    message(FATAL_ERROR "${what} ${have} is too old: pcomm needs >= ${want} "
                        "(or configure with the codec's PCOMM_WITH_* option OFF)")
  endif()
endfunction()

if(PCOMM_WITH_ZLIB)
  find_package(ZLIB REQUIRED)
  set(_v "${ZLIB_VERSION_STRING}")
  if(DEFINED ZLIB_VERSION AND NOT "${ZLIB_VERSION}" STREQUAL "")
    set(_v "${ZLIB_VERSION}")
  endif()
  pcomm_require_version(zlib "${_v}" 1.2.13)
  list(APPEND PCOMM_CODEC_SOURCES filter_gzip.c)
  list(APPEND PCOMM_CODEC_LIBS ZLIB::ZLIB)
  list(APPEND PCOMM_CODEC_DEFINITIONS PCOMM_HAVE_ZLIB)
  list(APPEND PCOMM_CMAKE_DEPS ZLIB)
  string(APPEND PCOMM_PC_REQUIRES_PRIVATE " zlib")
endif()

if(PCOMM_WITH_BZIP2)
  find_package(BZip2 REQUIRED)
  set(_v "${BZIP2_VERSION_STRING}")
  if(DEFINED BZIP2_VERSION AND NOT "${BZIP2_VERSION}" STREQUAL "")
    set(_v "${BZIP2_VERSION}")
  endif()
  pcomm_require_version(bzip2 "${_v}" 1.0.8)
  list(APPEND PCOMM_CODEC_SOURCES filter_bzip2.c)
  list(APPEND PCOMM_CODEC_LIBS BZip2::BZip2)
  list(APPEND PCOMM_CODEC_DEFINITIONS PCOMM_HAVE_BZIP2)
  list(APPEND PCOMM_CMAKE_DEPS BZip2)
  string(APPEND PCOMM_PC_LIBS_PRIVATE " -lbz2") # libbz2 ships no pkg-config file
endif()

if(PCOMM_WITH_LZMA)
  find_package(LibLZMA REQUIRED)
  list(APPEND PCOMM_CODEC_SOURCES filter_xz.c)
  list(APPEND PCOMM_CODEC_LIBS LibLZMA::LibLZMA)
  list(APPEND PCOMM_CODEC_DEFINITIONS PCOMM_HAVE_LZMA)
  list(APPEND PCOMM_CMAKE_DEPS LibLZMA)
  string(APPEND PCOMM_PC_REQUIRES_PRIVATE " liblzma")
endif()

if(PCOMM_WITH_ZSTD)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(ZSTD REQUIRED libzstd)
  list(APPEND PCOMM_CODEC_SOURCES filter_zstd.c)
  # Full paths rather than an IMPORTED target, so a static libpcomm's export needs no
  # pkg-config in the consumer.
  list(APPEND PCOMM_CODEC_LIBS ${ZSTD_LINK_LIBRARIES})
  list(APPEND PCOMM_CODEC_INCLUDES ${ZSTD_INCLUDE_DIRS})
  list(APPEND PCOMM_CODEC_DEFINITIONS PCOMM_HAVE_ZSTD)
  string(APPEND PCOMM_PC_REQUIRES_PRIVATE " libzstd")
endif()

string(STRIP "${PCOMM_PC_REQUIRES_PRIVATE}" PCOMM_PC_REQUIRES_PRIVATE)
string(STRIP "${PCOMM_PC_LIBS_PRIVATE}" PCOMM_PC_LIBS_PRIVATE)
