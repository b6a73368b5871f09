# lorahub generate on the fixture must print HF's greedy text (golden.json).
set(base "${SHARED}/fixtures/tiny-t5/base")
set(input "Evaluate the result of a random Boolean expression.\n\nQ: not ( True ) and ( True ) is\nA:")
execute_process(COMMAND ${LORAHUB} generate --model ${base} --input "${input}" --max-new-tokens 12 --threads 1
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "generate failed (${rc}): ${err}")
endif()
string(STRIP "${out}" out)
set(expected "I said thatJ why used come argument other food True use")
if(NOT out STREQUAL expected)
  message(FATAL_ERROR "generate printed '${out}', expected '${expected}'")
endif()
# A bad model directory: one error line naming it, non-zero exit.
execute_process(COMMAND ${LORAHUB} generate --model /nonexistent --input x
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(rc EQUAL 0 OR NOT err MATCHES "/nonexistent")
  message(FATAL_ERROR "bad --model: rc=${rc} err='${err}'")
endif()
