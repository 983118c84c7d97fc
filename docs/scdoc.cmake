# Run scdoc, then drop the empty paragraph macros it emits around section headings (".P" right
# after ".SH"/".SS" or right before another heading or paragraph), which mandoc -Tlint reports.
# Usage: cmake -DSCDOC=... -DIN=page.scd -DOUT=page -P scdoc.cmake
execute_process(COMMAND ${SCDOC} INPUT_FILE ${IN} OUTPUT_VARIABLE man RESULT_VARIABLE rc
                ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "scdoc ${IN}: ${err}")
endif()
string(REGEX REPLACE "(\n\\.S[HS][^\n]*)\n\\.P\n" "\\1\n" man "${man}")
string(REGEX REPLACE "\n\\.P\n(\\.S[HS] |\\.P\n|\\.PP\n|\\.RE\n)" "\n\\1" man "${man}")
string(REGEX REPLACE "\n\\.P\n(\\.S[HS] |\\.P\n|\\.PP\n|\\.RE\n)" "\n\\1" man "${man}")
file(WRITE ${OUT} "${man}")
