/* The FMI 3.0 functions the lag model (lag.c) does not support.

   An FMU must export every function of the standard, but this model has no integer, string,
   binary or clock variables, no scheduled execution and no derivatives to offer. Each of these
   functions answers fmi3Error (3) whatever it is given; they are written without the header
   prototypes because they never read their arguments, which a C callee may always ignore. */

#include <stddef.h>

#define UNSUPPORTED(name) \
    int name(void) { return 3; }

UNSUPPORTED(fmi3GetFloat32)
UNSUPPORTED(fmi3GetInt8)
UNSUPPORTED(fmi3GetUInt8)
UNSUPPORTED(fmi3GetInt16)
UNSUPPORTED(fmi3GetUInt16)
UNSUPPORTED(fmi3GetInt32)
UNSUPPORTED(fmi3GetUInt32)
UNSUPPORTED(fmi3GetInt64)
UNSUPPORTED(fmi3GetUInt64)
UNSUPPORTED(fmi3GetBoolean)
UNSUPPORTED(fmi3GetString)
UNSUPPORTED(fmi3GetBinary)
UNSUPPORTED(fmi3GetClock)
UNSUPPORTED(fmi3SetFloat32)
UNSUPPORTED(fmi3SetInt8)
UNSUPPORTED(fmi3SetUInt8)
UNSUPPORTED(fmi3SetInt16)
UNSUPPORTED(fmi3SetUInt16)
UNSUPPORTED(fmi3SetInt32)
UNSUPPORTED(fmi3SetUInt32)
UNSUPPORTED(fmi3SetInt64)
UNSUPPORTED(fmi3SetUInt64)
UNSUPPORTED(fmi3SetBoolean)
UNSUPPORTED(fmi3SetString)
UNSUPPORTED(fmi3SetBinary)
UNSUPPORTED(fmi3SetClock)
UNSUPPORTED(fmi3GetNumberOfVariableDependencies)
UNSUPPORTED(fmi3GetVariableDependencies)
UNSUPPORTED(fmi3GetDirectionalDerivative)
UNSUPPORTED(fmi3GetAdjointDerivative)
UNSUPPORTED(fmi3EnterConfigurationMode)
UNSUPPORTED(fmi3ExitConfigurationMode)
UNSUPPORTED(fmi3GetIntervalDecimal)
UNSUPPORTED(fmi3GetIntervalFraction)
UNSUPPORTED(fmi3GetShiftDecimal)
UNSUPPORTED(fmi3GetShiftFraction)
UNSUPPORTED(fmi3SetIntervalDecimal)
UNSUPPORTED(fmi3SetIntervalFraction)
UNSUPPORTED(fmi3SetShiftDecimal)
UNSUPPORTED(fmi3SetShiftFraction)
UNSUPPORTED(fmi3EvaluateDiscreteStates)
UNSUPPORTED(fmi3ActivateModelPartition)
UNSUPPORTED(fmi3GetOutputDerivatives)

/* Scheduled execution is not offered: instantiating it gives no instance. */
void *fmi3InstantiateScheduledExecution(void) { return NULL; }
