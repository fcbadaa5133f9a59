#!/bin/sh
# dpkg-shlibdeps as CPack runs it for the .debs (packaging/cpack-project.cmake makes CPack use
# this): the same, minus dependencies on this source's own packages. Without it, a patron or
# libpatronclient0 package already installed on the build host (an older build) lends its
# shlibs file to libpatronclient.so.0 and patron ends up depending on itself. patron's
# dependency on libpatronclient0 (= version) is declared by its component instead.
exec dpkg-shlibdeps -xpatron -xlibpatronclient0 -xlibpatronclient-dev "$@"
