# Install rules for self-hosting and the Debian package (CPack), included from the
# top-level CMakeLists.txt. daybookd (sbin) and daybook (bin) install themselves in
# server/ and client/; this adds the unit files, the backup script, the example
# config, the proxy examples, man pages and bash completion.
#
#   cmake --install build --prefix /usr      # or /usr/local; both programs
#   cmake --install build --prefix ~/.local --component client   # the CLI alone
#   cd build && cpack -G DEB                 # daybookd_<version>_<arch>.deb (server)
#                                            # daybookd-postgresql_<version>_<arch>.deb
#                                            # daybook_<version>_<arch>.deb (the CLI)
#
# Three components: "server" (daybookd, its units, backup script, examples,
# daybookd(8)), "postgresql" (daybookd's PostgreSQL module, libdir/daybook/
# daybookd-postgresql.so, installed by server/CMakeLists.txt: the only part that
# needs libpq) and "client" (daybook, daybook(1), its completion). A clinic installs
# the server package (which recommends the module); its clients and counselors
# install only the CLI.
include(GNUInstallDirs)

set(DAYBOOK_DEPLOY_DIR ${CMAKE_CURRENT_LIST_DIR})
set(DAYBOOK_DOCDIR ${CMAKE_INSTALL_DATADIR}/doc/daybook)

# systemd: the service, the backup service and its timer.
install(FILES ${DAYBOOK_DEPLOY_DIR}/daybookd.service ${DAYBOOK_DEPLOY_DIR}/daybookd-backup.service
              ${DAYBOOK_DEPLOY_DIR}/daybookd-backup.timer
        DESTINATION lib/systemd/system COMPONENT server)
install(PROGRAMS ${DAYBOOK_DEPLOY_DIR}/daybook-backup.sh
        DESTINATION libexec/daybook COMPONENT server)

# The units name /usr/sbin/daybookd and /usr/libexec/daybook/daybook-backup.sh, the
# packaged paths. Installed under another prefix they name that prefix's copies.
install(CODE [[
    set(_prefix "${CMAKE_INSTALL_PREFIX}")
    if(NOT _prefix STREQUAL "/usr")
        foreach(_unit daybookd.service daybookd-backup.service)
            set(_f "$ENV{DESTDIR}${_prefix}/lib/systemd/system/${_unit}")
            file(READ "${_f}" _text)
            string(REPLACE "/usr/sbin/daybookd" "${_prefix}/sbin/daybookd" _text "${_text}")
            string(REPLACE "/usr/libexec/daybook/" "${_prefix}/libexec/daybook/" _text "${_text}")
            file(WRITE "${_f}" "${_text}")
        endforeach()
    endif()
]] COMPONENT server)

# Documentation and examples; the .deb's postinst copies the example config to
# /etc/daybook/daybookd.conf when there is none.
install(FILES ${DAYBOOK_DEPLOY_DIR}/README.md ${DAYBOOK_DEPLOY_DIR}/daybookd.conf.example
              ${DAYBOOK_DEPLOY_DIR}/Caddyfile.example ${DAYBOOK_DEPLOY_DIR}/nginx.conf.example
              ${DAYBOOK_DEPLOY_DIR}/prometheus-rules.yml ${DAYBOOK_DEPLOY_DIR}/POSTGRES.md
        DESTINATION ${DAYBOOK_DOCDIR} COMPONENT server)
install(FILES ${DAYBOOK_DEPLOY_DIR}/CLIENT-INSTALL.md
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/daybook-client COMPONENT client)

# bash completion: one file serves both commands.
install(FILES ${DAYBOOK_DEPLOY_DIR}/daybook.bash-completion
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME daybookd
        COMPONENT server)
install(FILES ${DAYBOOK_DEPLOY_DIR}/daybook.bash-completion
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME daybook
        COMPONENT client)

# Man pages from scdoc sources, when scdoc (Debian's `scdoc`) is there. daybook(1)
# takes its command list from `daybook --help` (man/commands.cmake).
find_program(SCDOC scdoc)
if(SCDOC)
    set(_man ${CMAKE_BINARY_DIR}/man)
    add_custom_command(OUTPUT ${_man}/daybook.1.scd
        COMMAND ${CMAKE_COMMAND} -E make_directory ${_man}
        COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:daybook>
                -DIN=${DAYBOOK_DEPLOY_DIR}/man/daybook.1.scd.in -DOUT=${_man}/daybook.1.scd
                -P ${DAYBOOK_DEPLOY_DIR}/man/commands.cmake
        DEPENDS daybook ${DAYBOOK_DEPLOY_DIR}/man/daybook.1.scd.in
                ${DAYBOOK_DEPLOY_DIR}/man/commands.cmake
        COMMENT "daybook.1.scd from daybook --help" VERBATIM)
    set(_daybook_1_scd ${_man}/daybook.1.scd)
    set(_daybookd_8_scd ${DAYBOOK_DEPLOY_DIR}/man/daybookd.8.scd)
    foreach(_page daybookd.8 daybook.1)
        string(REGEX REPLACE ".*\\." "" _section ${_page})
        string(REPLACE "." "_" _var ${_page})
        set(_src ${_${_var}_scd})
        add_custom_command(OUTPUT ${_man}/${_page}
            COMMAND ${CMAKE_COMMAND} -E make_directory ${_man}
            COMMAND sh -c "\"$0\" < \"$1\" > \"$2\"" ${SCDOC} ${_src} ${_man}/${_page}
            DEPENDS ${_src}
            COMMENT "scdoc ${_page}" VERBATIM)
        if(_page STREQUAL "daybook.1")
            set(_component client)
        else()
            set(_component server)
        endif()
        install(FILES ${_man}/${_page} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${_section}
                COMPONENT ${_component})
        list(APPEND _mans ${_man}/${_page})
    endforeach()
    add_custom_target(daybook_man ALL DEPENDS ${_mans})
else()
    message(STATUS "scdoc not found: man pages are not built (apt-get install scdoc)")
endif()

# The Debian packages: daybookd (the server) and daybook (the CLI, for clients and
# counselors), one per component.
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL server postgresql client)
set(CPACK_PACKAGE_NAME daybook)
set(CPACK_PACKAGE_VENDOR "Daybook developers")
set(CPACK_PACKAGE_CONTACT "Daybook developers")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_PREFIX /usr)
# Install with DESTDIR so the units' paths are /usr's, not the staging directory's.
set(CPACK_SET_DESTDIR ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "Daybook developers")
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

set(CPACK_DEBIAN_SERVER_PACKAGE_NAME daybookd)
set(CPACK_DEBIAN_SERVER_PACKAGE_SECTION net)
set(CPACK_COMPONENT_SERVER_DESCRIPTION
    "between-sessions companion for outpatient treatment: end-to-end-encrypted sync server\n daybookd stores end-to-end-encrypted records for clients of an intensive outpatient\n program and cannot read them. Ships a hardened systemd unit, a nightly backup timer\n and reverse-proxy examples. Clients and counselors install the daybook package.")
set(CPACK_DEBIAN_SERVER_PACKAGE_DEPENDS "libuv1, libsodium23, libjansson4, libsqlite3-0, adduser")
# Recommends, not Depends: an upgrade from a daybookd that had PostgreSQL built in
# brings the module along (apt installs new Recommends), and a SQLite-only clinic may
# leave it out (--no-install-recommends) and with it libpq and its libraries.
set(CPACK_DEBIAN_SERVER_PACKAGE_RECOMMENDS "daybookd-postgresql")
set(CPACK_DEBIAN_SERVER_PACKAGE_SUGGESTS "caddy | nginx")
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA
    ${DAYBOOK_DEPLOY_DIR}/debian/postinst ${DAYBOOK_DEPLOY_DIR}/debian/prerm
    ${DAYBOOK_DEPLOY_DIR}/debian/postrm)

# daybookd refuses a module of another version (server/store/store.c), hence "=".
set(CPACK_DEBIAN_POSTGRESQL_PACKAGE_NAME daybookd-postgresql)
set(CPACK_DEBIAN_POSTGRESQL_PACKAGE_SECTION net)
set(CPACK_COMPONENT_POSTGRESQL_DESCRIPTION
    "between-sessions companion for outpatient treatment: PostgreSQL store for daybookd\n daybookd's PostgreSQL backend, loaded only when daybookd serve --store names a\n postgresql:// database (several daybookd nodes on one database). A server that\n keeps its store in SQLite does not need it.")
set(CPACK_DEBIAN_POSTGRESQL_PACKAGE_DEPENDS "daybookd (= ${CPACK_PACKAGE_VERSION}), libpq5")

set(CPACK_DEBIAN_CLIENT_PACKAGE_NAME daybook)
set(CPACK_DEBIAN_CLIENT_PACKAGE_SECTION utils)
set(CPACK_COMPONENT_CLIENT_DESCRIPTION
    "between-sessions companion for outpatient treatment: the daybook command\n daybook logs cravings, journal entries, check-ins and coping skills offline, and\n syncs them end-to-end encrypted with the clinic's daybookd; counselors review\n what their clients share. Needs no server on this machine.")
# libcurl4 by name: daybook loads it with dlopen (client/sync/net.c), so no scan of the
# binary's libraries would find it.
set(CPACK_DEBIAN_CLIENT_PACKAGE_DEPENDS "libcurl4, libsodium23, libjansson4, libsqlite3-0, libqrencode4")
# The source archive for other Linux systems (deploy/CLIENT-INSTALL.md):
# `cpack --config CPackSourceConfig.cmake` writes daybook-<version>.tar.gz.
set(CPACK_SOURCE_GENERATOR TGZ)
set(CPACK_SOURCE_PACKAGE_FILE_NAME daybook-${PROJECT_VERSION})
set(CPACK_SOURCE_IGNORE_FILES "/\\.git/" "/build[^/]*/" "/node_modules/" "/\\.ci/")
include(CPack)
