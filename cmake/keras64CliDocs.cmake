# Script mode: writes the man page keras64.1 and the bash completion script from the built tool's
# own --help output, so neither can drift from the tool (tools/keras64/CMakeLists.txt runs it after
# every link of the CLI).
#   cmake -DCLI=path/to/keras64 -DMAN=out/keras64.1 -DCOMPLETION=out/keras64.bash -P keras64CliDocs.cmake
foreach(_v CLI MAN COMPLETION)
  if(NOT DEFINED ${_v})
    message(FATAL_ERROR "keras64CliDocs.cmake: -D${_v}=... is required")
  endif()
endforeach()

# Runs the tool; its output as a CMake list of lines (";", "[" and "]" kept as placeholders, since
# CMake lists split on the one and do not split inside the others).
function(_k64_help out_var)
  execute_process(COMMAND ${CLI} ${ARGN} OUTPUT_VARIABLE _text RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "${CLI} ${ARGN} failed (${_rc})")
  endif()
  string(REPLACE ";" "@SC@" _text "${_text}")
  string(REPLACE "[" "@LB@" _text "${_text}")
  string(REPLACE "]" "@RB@" _text "${_text}")
  string(REGEX REPLACE "\n$" "" _text "${_text}")
  string(REPLACE "\n" ";" _lines "${_text}")
  set(${out_var} "${_lines}" PARENT_SCOPE)
endfunction()

function(_k64_restore out_var line)
  string(REPLACE "@SC@" ";" line "${line}")
  string(REPLACE "@LB@" "[" line "${line}")
  string(REPLACE "@RB@" "]" line "${line}")
  set(${out_var} "${line}" PARENT_SCOPE)
endfunction()

# The help text in list_var as roff: verbatim (.nf), with roff's escape character and leading dots
# escaped, the tool's path in "Usage:" shown as keras64, and without the "Exit status:" footer
# (the man page has a section for it).
function(_k64_roff out_var list_var)
  set(_roff ".nf\n")
  foreach(_line IN LISTS ${list_var})
    _k64_restore(_line "${_line}")
    if(_line MATCHES "^Exit status:")
      continue()
    endif()
    string(REGEX REPLACE "^Usage: [^ ]+" "Usage: keras64" _line "${_line}")
    string(REPLACE "\\" "\\e" _line "${_line}")
    string(REPLACE "-" "\\-" _line "${_line}")
    if(_line MATCHES "^[.']")
      set(_line "\\&${_line}")
    endif()
    string(APPEND _roff "${_line}\n")
  endforeach()
  string(APPEND _roff ".fi\n")
  set(${out_var} "${_roff}" PARENT_SCOPE)
endfunction()

# The option names of the help text in list_var ("  -o,--output TEXT ..." gives -o and --output).
function(_k64_options out_var list_var)
  set(_opts)
  foreach(_line IN LISTS ${list_var})
    if(_line MATCHES "^  (-[-A-Za-z0-9,]+)")
      string(REPLACE "," ";" _names "${CMAKE_MATCH_1}")
      list(APPEND _opts ${_names})
    endif()
  endforeach()
  set(${out_var} "${_opts}" PARENT_SCOPE)
endfunction()

execute_process(COMMAND ${CLI} --version OUTPUT_VARIABLE _version OUTPUT_STRIP_TRAILING_WHITESPACE)
_k64_help(_top --help)
list(GET _top 0 _summary)
_k64_restore(_summary "${_summary}")
string(REGEX REPLACE "^keras64: *" "" _summary "${_summary}")

# Subcommands: the lines under "Subcommands:" up to the next blank line.
set(_subs)
set(_in_subs FALSE)
foreach(_line IN LISTS _top)
  if(_line MATCHES "^Subcommands:")
    set(_in_subs TRUE)
  elseif(_in_subs AND _line MATCHES "^  ([a-z][-a-z0-9]*)")
    list(APPEND _subs ${CMAKE_MATCH_1})
  elseif(_in_subs AND _line STREQUAL "")
    set(_in_subs FALSE)
  endif()
endforeach()
if(NOT _subs)
  message(FATAL_ERROR "no subcommands found in `${CLI} --help`")
endif()
# The exit statuses, from the help's footer: "Exit status: 0 success; 1 ...; ...".
set(_exit "")
foreach(_line IN LISTS _top)
  if(_line MATCHES "^Exit status: (.*)\\.$")
    string(REPLACE "@SC@ " ";" _codes "${CMAKE_MATCH_1}")
    foreach(_code IN LISTS _codes)
      _k64_restore(_code "${_code}")
      string(REPLACE "-" "\\-" _code "${_code}")
      if(_code MATCHES "^([0-9]+) (.*)$")
        string(APPEND _exit ".TP\n.B ${CMAKE_MATCH_1}\n${CMAKE_MATCH_2}\n")
      endif()
    endforeach()
  endif()
endforeach()
if(_exit STREQUAL "")
  message(FATAL_ERROR "no \"Exit status:\" footer in `${CLI} --help`")
endif()

_k64_roff(_top_roff _top)
string(REPLACE "-" "\\-" _summary_roff "${_summary}")
set(_man ".\\\" Generated from `keras64 --help` by cmake/keras64CliDocs.cmake: do not edit.
.TH KERAS64 1 \"\" \"${_version}\" \"User Commands\"
.SH NAME
keras64 \\- ${_summary_roff}
.SH SYNOPSIS
.B keras64
.I COMMAND
[\\fIOPTIONS\\fR] \\fIFILE\\fR...
.br
.B keras64
\\-\\-help | \\-\\-version
.SH DESCRIPTION
${_top_roff}.SH COMMANDS
")

_k64_options(_top_opts _top)
string(REPLACE ";" " " _words "${_top_opts};${_subs}")
set(_cases "")
set(_values "")
foreach(_sub IN LISTS _subs)
  _k64_help(_help ${_sub} --help)
  _k64_roff(_sub_roff _help)
  string(APPEND _man ".SS \"keras64 ${_sub}\"\n${_sub_roff}")
  _k64_options(_opts _help)
  string(REPLACE ";" " " _opts "${_opts}")
  string(APPEND _cases "    ${_sub}) opts=\"${_opts}\" ;;\n")
  # Values offered after an option: --to's formats ("Output format: a, b, ..."), and the choices
  # CLI11 prints for a checked option ("--cast TEXT:{floats,all}").
  foreach(_line IN LISTS _help)
    _k64_restore(_line "${_line}")
    if(_line MATCHES "^  [-A-Za-z0-9,]*(--[-a-z0-9]+) .*Output format: ([^ ].*)$")
      string(REPLACE "," "" _choices "${CMAKE_MATCH_2}")
      string(APPEND _values "    ${_sub}:${CMAKE_MATCH_1}) words=\"${_choices}\" ;;\n")
    elseif(_line MATCHES "^  [-A-Za-z0-9,]*(--[-a-z0-9]+) [A-Z]+:{([^}]*)}")
      string(REPLACE "," " " _choices "${CMAKE_MATCH_2}")
      string(APPEND _values "    ${_sub}:${CMAKE_MATCH_1}) words=\"${_choices}\" ;;\n")
    endif()
  endforeach()
endforeach()
string(APPEND _man ".SH \"EXIT STATUS\"\n${_exit}")
file(WRITE ${MAN} "${_man}")

string(REPLACE ";" "|" _sub_pattern "${_subs}")
file(WRITE ${COMPLETION} "# bash completion for keras64 (${_version}).
# Generated from `keras64 --help` by cmake/keras64CliDocs.cmake: do not edit.
_keras64() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} cmd= opts words i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case \${COMP_WORDS[i]} in ${_sub_pattern}) cmd=\${COMP_WORDS[i]}; break ;; esac
  done
  if [[ -z \$cmd ]]; then
    COMPREPLY=(\$(compgen -W \"${_words}\" -- \"\$cur\"))
    return
  fi
  case \$cmd:\$prev in
${_values}    *) words= ;;
  esac
  if [[ -n \$words ]]; then
    COMPREPLY=(\$(compgen -W \"\$words\" -- \"\$cur\"))
    return
  fi
  case \$cmd in
${_cases}  esac
  if [[ \$cur == -* ]]; then
    COMPREPLY=(\$(compgen -W \"\$opts\" -- \"\$cur\"))
  else
    COMPREPLY=(\$(compgen -f -- \"\$cur\"))
  fi
}
complete -o filenames -o bashdefault -F _keras64 keras64
")
