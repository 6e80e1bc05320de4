# install-config.cmake: run by `cmake --install` (install(CODE) in the top
# CMakeLists.txt) to put the default configuration into SYSCONFDIR/newsmon
# without ever overwriting a file the administrator has edited.
#
# For each file of the list: absent at the destination -> installed; the
# same as ours -> left alone; different (edited, or ours changed) -> left
# alone, and ours is installed beside it as FILE.dist, so the administrator
# can compare (diff -u newsmon.conf newsmon.conf.dist) and merge.
#
# The destination is worked out here, at install time, because the prefix
# may be given then (cmake --install --prefix P, or cpack's staging): a
# relative SYSCONFDIR follows GNUInstallDirs (prefix /usr -> /etc,
# /opt/X -> /etc/opt/X, else PREFIX/etc), and DESTDIR is prepended.
#
# In: NM_CONFIG_SRC (folder holding the files), NM_CONFIG_FILES (paths
# relative to it), NM_CONFIG_DIRS (folders to create even when empty),
# NM_SYSCONFDIR (CMAKE_INSTALL_SYSCONFDIR as configured).

set(_etc "${NM_SYSCONFDIR}")
if(NOT IS_ABSOLUTE "${_etc}")
  if(CMAKE_INSTALL_PREFIX STREQUAL "/usr" OR CMAKE_INSTALL_PREFIX STREQUAL "/usr/")
    set(_etc "/${_etc}")
  elseif(CMAKE_INSTALL_PREFIX MATCHES "^/opt/")
    set(_etc "/${_etc}${CMAKE_INSTALL_PREFIX}")
  else()
    set(_etc "${CMAKE_INSTALL_PREFIX}/${_etc}")
  endif()
endif()
# file(INSTALL) prepends DESTDIR itself; the tests of what is there and
# file(MAKE_DIRECTORY) need it spelled out.
set(_dest "${_etc}/newsmon")
set(_root "$ENV{DESTDIR}${_dest}")
foreach(_d IN LISTS NM_CONFIG_DIRS)
  file(MAKE_DIRECTORY "${_root}/${_d}")
endforeach()

foreach(_rel IN LISTS NM_CONFIG_FILES)
  set(_src "${NM_CONFIG_SRC}/${_rel}")
  get_filename_component(_dir "${_dest}/${_rel}" DIRECTORY)
  get_filename_component(_name "${_rel}" NAME)
  if(NOT EXISTS "${_src}")
    message(FATAL_ERROR "newsmon: ${_src} is missing (re-run cmake after removing a config file)")
  endif()
  if(NOT EXISTS "${_root}/${_rel}")
    file(INSTALL "${_src}" DESTINATION "${_dir}"
         PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  else()
    file(SHA256 "${_src}" _ours)
    file(SHA256 "${_root}/${_rel}" _theirs)
    if(_ours STREQUAL _theirs)
      message(STATUS "Up-to-date: ${_root}/${_rel}")
      list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${_root}/${_rel}")
    else()
      message(STATUS "Kept (edited): ${_root}/${_rel}; the new version is ${_name}.dist beside it")
      file(INSTALL "${_src}" DESTINATION "${_dir}" RENAME "${_name}.dist"
           PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
    endif()
  endif()
endforeach()
