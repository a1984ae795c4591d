/* A first-order lag, dx/dt = (k*u - x)/tau, y = x, as an FMU for the FMU adapter's tests.

   One source for FMI 2.0 and FMI 3.0 (compile with -DFMI_VERSION=2 or 3), Model Exchange and
   Co-Simulation in one binary. It is small on purpose: the lag has an analytic solution to
   compare with, one state to snapshot, and one state event (x crossing `level` flips the
   discrete output `above`) to exercise the event handling of the Model Exchange integrator.

   Co-Simulation steps with the exact solution of the lag over each step, so its outputs are
   the analytic ones at every communication point.

   With -DLAG_FAULTS the model misbehaves on request, for the error-handling tests: an input
   u > 1000 makes a step (or the derivatives) return Error, an input u < -1000 makes y NaN.

   Value references: 0 time (FMI 3.0 only), 1 k, 2 tau, 3 x0, 4 level, 5 u, 6 x, 7 der(x),
   8 y, 9 above, 10 the event indicator x - level (declared as a variable in FMI 3.0 only). Functions the model does not support are in unsupported.c. */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if FMI_VERSION == 3
#include "fmi3Functions.h"
#define OK fmi3OK
#define ERROR fmi3Error
typedef fmi3Status Status;
#else
#include "fmi2Functions.h"
#define OK fmi2OK
#define ERROR fmi2Error
typedef fmi2Status Status;
#endif

#ifndef LAG_TOKEN
#define LAG_TOKEN "{8c4e810f-3df3-4a00-8276-176fa3c9f000}"
#endif

enum { VR_TIME, VR_K, VR_TAU, VR_X0, VR_LEVEL, VR_U, VR_X, VR_DER_X, VR_Y, VR_ABOVE, VR_Z };

/* Everything the model remembers: copying this struct is its whole FMU state. */
typedef struct {
    double time, k, tau, x0, level, u, x, above;
} Values;

typedef struct {
    Values v;
    int initialized;
    void (*log)(void *env, const char *instance, int status, const char *message);
    void *env;
    char name[64];
} Lag;

static void report(Lag *m, int status, const char *message) {
    if (m->log) m->log(m->env, m->name, status, message);
}

static int faulty(const Lag *m) {
#ifdef LAG_FAULTS
    return m->v.u > 1000.0;
#else
    (void)m;
    return 0;
#endif
}

static double output_y(const Lag *m) {
#ifdef LAG_FAULTS
    if (m->v.u < -1000.0) return NAN;
#endif
    return m->v.x;
}

static double derivative(const Lag *m) { return (m->v.k * m->v.u - m->v.x) / m->v.tau; }

static Lag *create(const char *name, const char *token) {
    if (!token || strcmp(token, LAG_TOKEN) != 0) return NULL;
    Lag *m = calloc(1, sizeof(Lag));
    if (!m) return NULL;
    strncpy(m->name, name ? name : "lag", sizeof m->name - 1);
    m->v.k = 2.0;
    m->v.tau = 1.0;
    m->v.x0 = 0.0;
    m->v.level = 1.0;
    m->v.u = 1.0;
    return m;
}

/* The discrete output after an event: an event is located where x - level is zero to within
   the integrator's tolerance, so the switch allows for being a hair short of the level. */
static void update_above(Lag *m) {
    double eps = 1e-8 * (1.0 + fabs(m->v.level));
    if (m->v.above == 0.0)
        m->v.above = m->v.x > m->v.level - eps ? 1.0 : 0.0;
    else
        m->v.above = m->v.x < m->v.level + eps ? 0.0 : 1.0;
}

static void initialize(Lag *m) {
    m->v.x = m->v.x0;
    m->v.above = m->v.x > m->v.level ? 1.0 : 0.0;
    m->initialized = 1;
}

static Status get_value(Lag *m, unsigned vr, double *value) {
    switch (vr) {
    case VR_TIME: *value = m->v.time; return OK;
    case VR_K: *value = m->v.k; return OK;
    case VR_TAU: *value = m->v.tau; return OK;
    case VR_X0: *value = m->v.x0; return OK;
    case VR_LEVEL: *value = m->v.level; return OK;
    case VR_U: *value = m->v.u; return OK;
    case VR_X: *value = m->v.x; return OK;
    case VR_DER_X: *value = derivative(m); return OK;
    case VR_Y: *value = output_y(m); return OK;
    case VR_ABOVE: *value = m->v.above; return OK;
    case VR_Z: *value = m->v.x - m->v.level; return OK;
    default: report(m, ERROR, "unknown value reference"); return ERROR;
    }
}

static Status set_value(Lag *m, unsigned vr, double value) {
    switch (vr) {
    case VR_K: m->v.k = value; return OK;
    case VR_TAU:
        if (!(value > 0.0)) {
            report(m, ERROR, "tau must be positive");
            return ERROR;
        }
        m->v.tau = value;
        return OK;
    case VR_X0: m->v.x0 = value; return OK;
    case VR_LEVEL: m->v.level = value; return OK;
    case VR_U: m->v.u = value; return OK;
    default: report(m, ERROR, "value reference cannot be set"); return ERROR;
    }
}

/* One co-simulation step: the exact solution of the lag with u held. */
static Status step(Lag *m, double t, double h) {
    if (faulty(m)) {
        report(m, ERROR, "input u is out of the range this model accepts");
        return ERROR;
    }
    double target = m->v.k * m->v.u;
    m->v.x = target + (m->v.x - target) * exp(-h / m->v.tau);
    m->v.time = t + h;
    m->v.above = m->v.x > m->v.level ? 1.0 : 0.0;
    return OK;
}

static Status save(Lag *m, void **state) {
    if (!*state) *state = malloc(sizeof(Values));
    if (!*state) return ERROR;
    memcpy(*state, &m->v, sizeof(Values));
    return OK;
}

static Status load(Lag *m, const void *state) {
    if (!state) return ERROR;
    memcpy(&m->v, state, sizeof(Values));
    return OK;
}

#if FMI_VERSION == 3
/* ---------------------------------------------------------------- FMI 3.0 layer --- */

typedef struct {
    Lag lag;
    fmi3LogMessageCallback logMessage;
    fmi3InstanceEnvironment env;
} Lag3;

static void forward3(void *env, const char *instance, int status, const char *message) {
    Lag3 *m = env;
    (void)instance;
    if (m->logMessage) m->logMessage(m->env, (fmi3Status)status, "logError", message);
}

static Lag *create3(fmi3String name, fmi3String token, fmi3InstanceEnvironment env,
                    fmi3LogMessageCallback logMessage) {
    Lag *core = create(name, token);
    if (!core) return NULL;
    Lag3 *m = calloc(1, sizeof(Lag3));
    if (!m) {
        free(core);
        return NULL;
    }
    m->lag = *core;
    free(core);
    m->logMessage = logMessage;
    m->env = env;
    m->lag.log = forward3;
    m->lag.env = m;
    return &m->lag;
}

const char *fmi3GetVersion(void) { return fmi3Version; }

fmi3Status fmi3SetDebugLogging(fmi3Instance instance, fmi3Boolean loggingOn, size_t nCategories,
                               const fmi3String categories[]) {
    (void)instance, (void)loggingOn, (void)nCategories, (void)categories;
    return fmi3OK;
}

fmi3Instance fmi3InstantiateModelExchange(fmi3String instanceName, fmi3String instantiationToken,
                                          fmi3String resourcePath, fmi3Boolean visible,
                                          fmi3Boolean loggingOn,
                                          fmi3InstanceEnvironment instanceEnvironment,
                                          fmi3LogMessageCallback logMessage) {
    (void)resourcePath, (void)visible;
    (void)loggingOn;
    return create3(instanceName, instantiationToken, instanceEnvironment, logMessage);
}

fmi3Instance fmi3InstantiateCoSimulation(
    fmi3String instanceName, fmi3String instantiationToken, fmi3String resourcePath,
    fmi3Boolean visible, fmi3Boolean loggingOn, fmi3Boolean eventModeUsed,
    fmi3Boolean earlyReturnAllowed, const fmi3ValueReference requiredIntermediateVariables[],
    size_t nRequiredIntermediateVariables, fmi3InstanceEnvironment instanceEnvironment,
    fmi3LogMessageCallback logMessage, fmi3IntermediateUpdateCallback intermediateUpdate) {
    (void)resourcePath, (void)visible, (void)eventModeUsed, (void)earlyReturnAllowed;
    (void)requiredIntermediateVariables, (void)nRequiredIntermediateVariables;
    (void)intermediateUpdate;
    (void)loggingOn;
    return create3(instanceName, instantiationToken, instanceEnvironment, logMessage);
}

void fmi3FreeInstance(fmi3Instance instance) { free(instance); }

fmi3Status fmi3EnterInitializationMode(fmi3Instance instance, fmi3Boolean toleranceDefined,
                                       fmi3Float64 tolerance, fmi3Float64 startTime,
                                       fmi3Boolean stopTimeDefined, fmi3Float64 stopTime) {
    (void)toleranceDefined, (void)tolerance, (void)stopTimeDefined, (void)stopTime;
    ((Lag *)instance)->v.time = startTime;
    return fmi3OK;
}

fmi3Status fmi3ExitInitializationMode(fmi3Instance instance) {
    initialize(instance);
    return fmi3OK;
}

fmi3Status fmi3EnterEventMode(fmi3Instance instance) {
    (void)instance;
    return fmi3OK;
}

fmi3Status fmi3Terminate(fmi3Instance instance) {
    (void)instance;
    return fmi3OK;
}

fmi3Status fmi3Reset(fmi3Instance instance) {
    Lag *m = instance;
    Lag *fresh = create(m->name, LAG_TOKEN);
    if (!fresh) return fmi3Error;
    m->v = fresh->v;
    m->initialized = 0;
    free(fresh);
    return fmi3OK;
}

fmi3Status fmi3GetFloat64(fmi3Instance instance, const fmi3ValueReference valueReferences[],
                          size_t nValueReferences, fmi3Float64 values[], size_t nValues) {
    if (nValues < nValueReferences) return fmi3Error;
    for (size_t i = 0; i < nValueReferences; i++)
        if (get_value(instance, valueReferences[i], &values[i]) != fmi3OK) return fmi3Error;
    return fmi3OK;
}

fmi3Status fmi3SetFloat64(fmi3Instance instance, const fmi3ValueReference valueReferences[],
                          size_t nValueReferences, const fmi3Float64 values[], size_t nValues) {
    if (nValues < nValueReferences) return fmi3Error;
    for (size_t i = 0; i < nValueReferences; i++)
        if (set_value(instance, valueReferences[i], values[i]) != fmi3OK) return fmi3Error;
    return fmi3OK;
}

fmi3Status fmi3GetFMUState(fmi3Instance instance, fmi3FMUState *FMUState) {
    return save(instance, FMUState);
}

fmi3Status fmi3SetFMUState(fmi3Instance instance, fmi3FMUState FMUState) {
    return load(instance, FMUState);
}

fmi3Status fmi3FreeFMUState(fmi3Instance instance, fmi3FMUState *FMUState) {
    (void)instance;
    free(*FMUState);
    *FMUState = NULL;
    return fmi3OK;
}

fmi3Status fmi3SerializedFMUStateSize(fmi3Instance instance, fmi3FMUState FMUState,
                                      size_t *size) {
    (void)instance, (void)FMUState;
    *size = sizeof(Values);
    return fmi3OK;
}

fmi3Status fmi3SerializeFMUState(fmi3Instance instance, fmi3FMUState FMUState,
                                 fmi3Byte serializedState[], size_t size) {
    (void)instance;
    if (size < sizeof(Values)) return fmi3Error;
    memcpy(serializedState, FMUState, sizeof(Values));
    return fmi3OK;
}

fmi3Status fmi3DeserializeFMUState(fmi3Instance instance, const fmi3Byte serializedState[],
                                   size_t size, fmi3FMUState *FMUState) {
    if (size != sizeof(Values)) return fmi3Error;
    if (save(instance, FMUState) != fmi3OK) return fmi3Error;
    memcpy(*FMUState, serializedState, sizeof(Values));
    return fmi3OK;
}

fmi3Status fmi3UpdateDiscreteStates(fmi3Instance instance, fmi3Boolean *discreteStatesNeedUpdate,
                                    fmi3Boolean *terminateSimulation,
                                    fmi3Boolean *nominalsOfContinuousStatesChanged,
                                    fmi3Boolean *valuesOfContinuousStatesChanged,
                                    fmi3Boolean *nextEventTimeDefined,
                                    fmi3Float64 *nextEventTime) {
    Lag *m = instance;
    update_above(m);
    *discreteStatesNeedUpdate = fmi3False;
    *terminateSimulation = fmi3False;
    *nominalsOfContinuousStatesChanged = fmi3False;
    *valuesOfContinuousStatesChanged = fmi3False;
    *nextEventTimeDefined = fmi3False;
    *nextEventTime = 0.0;
    return fmi3OK;
}

fmi3Status fmi3EnterContinuousTimeMode(fmi3Instance instance) {
    (void)instance;
    return fmi3OK;
}

fmi3Status fmi3CompletedIntegratorStep(fmi3Instance instance,
                                       fmi3Boolean noSetFMUStatePriorToCurrentPoint,
                                       fmi3Boolean *enterEventMode,
                                       fmi3Boolean *terminateSimulation) {
    (void)instance, (void)noSetFMUStatePriorToCurrentPoint;
    *enterEventMode = fmi3False;
    *terminateSimulation = fmi3False;
    return fmi3OK;
}

fmi3Status fmi3SetTime(fmi3Instance instance, fmi3Float64 time) {
    ((Lag *)instance)->v.time = time;
    return fmi3OK;
}

fmi3Status fmi3SetContinuousStates(fmi3Instance instance, const fmi3Float64 continuousStates[],
                                   size_t nContinuousStates) {
    if (nContinuousStates != 1) return fmi3Error;
    ((Lag *)instance)->v.x = continuousStates[0];
    return fmi3OK;
}

fmi3Status fmi3GetContinuousStateDerivatives(fmi3Instance instance, fmi3Float64 derivatives[],
                                             size_t nContinuousStates) {
    if (nContinuousStates != 1) return fmi3Error;
    if (faulty(instance)) {
        report(instance, fmi3Error, "input u is out of the range this model accepts");
        return fmi3Error;
    }
    derivatives[0] = derivative(instance);
    return fmi3OK;
}

fmi3Status fmi3GetEventIndicators(fmi3Instance instance, fmi3Float64 eventIndicators[],
                                  size_t nEventIndicators) {
    Lag *m = instance;
    if (nEventIndicators != 1) return fmi3Error;
    eventIndicators[0] = m->v.x - m->v.level;
    return fmi3OK;
}

fmi3Status fmi3GetContinuousStates(fmi3Instance instance, fmi3Float64 continuousStates[],
                                   size_t nContinuousStates) {
    if (nContinuousStates != 1) return fmi3Error;
    continuousStates[0] = ((Lag *)instance)->v.x;
    return fmi3OK;
}

fmi3Status fmi3GetNominalsOfContinuousStates(fmi3Instance instance, fmi3Float64 nominals[],
                                             size_t nContinuousStates) {
    (void)instance;
    if (nContinuousStates != 1) return fmi3Error;
    nominals[0] = 1.0;
    return fmi3OK;
}

fmi3Status fmi3GetNumberOfEventIndicators(fmi3Instance instance, size_t *nEventIndicators) {
    (void)instance;
    *nEventIndicators = 1;
    return fmi3OK;
}

fmi3Status fmi3GetNumberOfContinuousStates(fmi3Instance instance, size_t *nContinuousStates) {
    (void)instance;
    *nContinuousStates = 1;
    return fmi3OK;
}

fmi3Status fmi3EnterStepMode(fmi3Instance instance) {
    (void)instance;
    return fmi3OK;
}

fmi3Status fmi3DoStep(fmi3Instance instance, fmi3Float64 currentCommunicationPoint,
                      fmi3Float64 communicationStepSize,
                      fmi3Boolean noSetFMUStatePriorToCurrentPoint,
                      fmi3Boolean *eventHandlingNeeded, fmi3Boolean *terminateSimulation,
                      fmi3Boolean *earlyReturn, fmi3Float64 *lastSuccessfulTime) {
    Lag *m = instance;
    (void)noSetFMUStatePriorToCurrentPoint;
    *eventHandlingNeeded = fmi3False;
    *terminateSimulation = fmi3False;
    *earlyReturn = fmi3False;
    fmi3Status status = step(m, currentCommunicationPoint, communicationStepSize);
    *lastSuccessfulTime = m->v.time;
    return status;
}

#else
/* ---------------------------------------------------------------- FMI 2.0 layer --- */

typedef struct {
    Lag lag;
    fmi2CallbackFunctions callbacks;
} Lag2;

static void forward2(void *env, const char *instance, int status, const char *message) {
    Lag2 *m = env;
    if (m->callbacks.logger)
        m->callbacks.logger(m->callbacks.componentEnvironment, instance, (fmi2Status)status,
                            "logError", "%s", message);
}

const char *fmi2GetTypesPlatform(void) { return fmi2TypesPlatform; }

const char *fmi2GetVersion(void) { return fmi2Version; }

fmi2Status fmi2SetDebugLogging(fmi2Component c, fmi2Boolean loggingOn, size_t nCategories,
                               const fmi2String categories[]) {
    (void)c, (void)loggingOn, (void)nCategories, (void)categories;
    return fmi2OK;
}

fmi2Component fmi2Instantiate(fmi2String instanceName, fmi2Type fmuType, fmi2String fmuGUID,
                              fmi2String fmuResourceLocation,
                              const fmi2CallbackFunctions *functions, fmi2Boolean visible,
                              fmi2Boolean loggingOn) {
    (void)fmuType, (void)fmuResourceLocation, (void)visible, (void)loggingOn;
    Lag *core = create(instanceName, fmuGUID);
    if (!core) return NULL;
    Lag2 *m = calloc(1, sizeof(Lag2));
    if (!m) {
        free(core);
        return NULL;
    }
    m->lag = *core;
    free(core);
    if (functions) m->callbacks = *functions;
    m->lag.log = forward2;
    m->lag.env = m;
    return m;
}

void fmi2FreeInstance(fmi2Component c) { free(c); }

fmi2Status fmi2SetupExperiment(fmi2Component c, fmi2Boolean toleranceDefined,
                               fmi2Real tolerance, fmi2Real startTime,
                               fmi2Boolean stopTimeDefined, fmi2Real stopTime) {
    (void)toleranceDefined, (void)tolerance, (void)stopTimeDefined, (void)stopTime;
    ((Lag *)c)->v.time = startTime;
    return fmi2OK;
}

fmi2Status fmi2EnterInitializationMode(fmi2Component c) {
    (void)c;
    return fmi2OK;
}

fmi2Status fmi2ExitInitializationMode(fmi2Component c) {
    initialize(c);
    return fmi2OK;
}

fmi2Status fmi2Terminate(fmi2Component c) {
    (void)c;
    return fmi2OK;
}

fmi2Status fmi2Reset(fmi2Component c) {
    Lag *m = c;
    Lag *fresh = create(m->name, LAG_TOKEN);
    if (!fresh) return fmi2Error;
    m->v = fresh->v;
    m->initialized = 0;
    free(fresh);
    return fmi2OK;
}

fmi2Status fmi2GetReal(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                       fmi2Real value[]) {
    for (size_t i = 0; i < nvr; i++)
        if (vr[i] == VR_TIME || get_value(c, vr[i], &value[i]) != fmi2OK) return fmi2Error;
    return fmi2OK;
}

fmi2Status fmi2SetReal(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                       const fmi2Real value[]) {
    for (size_t i = 0; i < nvr; i++)
        if (set_value(c, vr[i], value[i]) != fmi2OK) return fmi2Error;
    return fmi2OK;
}

fmi2Status fmi2GetInteger(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                          fmi2Integer value[]) {
    (void)c, (void)vr, (void)value;
    return nvr == 0 ? fmi2OK : fmi2Error;
}

fmi2Status fmi2GetBoolean(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                          fmi2Boolean value[]) {
    (void)c, (void)vr, (void)value;
    return nvr == 0 ? fmi2OK : fmi2Error;
}

fmi2Status fmi2GetString(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                         fmi2String value[]) {
    (void)c, (void)vr, (void)value;
    return nvr == 0 ? fmi2OK : fmi2Error;
}

fmi2Status fmi2SetInteger(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                          const fmi2Integer value[]) {
    (void)c, (void)vr, (void)value;
    return nvr == 0 ? fmi2OK : fmi2Error;
}

fmi2Status fmi2SetBoolean(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                          const fmi2Boolean value[]) {
    (void)c, (void)vr, (void)value;
    return nvr == 0 ? fmi2OK : fmi2Error;
}

fmi2Status fmi2SetString(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                         const fmi2String value[]) {
    (void)c, (void)vr, (void)value;
    return nvr == 0 ? fmi2OK : fmi2Error;
}

fmi2Status fmi2GetFMUstate(fmi2Component c, fmi2FMUstate *FMUstate) { return save(c, FMUstate); }

fmi2Status fmi2SetFMUstate(fmi2Component c, fmi2FMUstate FMUstate) { return load(c, FMUstate); }

fmi2Status fmi2FreeFMUstate(fmi2Component c, fmi2FMUstate *FMUstate) {
    (void)c;
    free(*FMUstate);
    *FMUstate = NULL;
    return fmi2OK;
}

fmi2Status fmi2SerializedFMUstateSize(fmi2Component c, fmi2FMUstate FMUstate, size_t *size) {
    (void)c, (void)FMUstate;
    *size = sizeof(Values);
    return fmi2OK;
}

fmi2Status fmi2SerializeFMUstate(fmi2Component c, fmi2FMUstate FMUstate,
                                 fmi2Byte serializedState[], size_t size) {
    (void)c;
    if (size < sizeof(Values)) return fmi2Error;
    memcpy(serializedState, FMUstate, sizeof(Values));
    return fmi2OK;
}

fmi2Status fmi2DeSerializeFMUstate(fmi2Component c, const fmi2Byte serializedState[],
                                   size_t size, fmi2FMUstate *FMUstate) {
    if (size != sizeof(Values)) return fmi2Error;
    if (save(c, FMUstate) != fmi2OK) return fmi2Error;
    memcpy(*FMUstate, serializedState, sizeof(Values));
    return fmi2OK;
}

fmi2Status fmi2GetDirectionalDerivative(fmi2Component c, const fmi2ValueReference vUnknown_ref[],
                                        size_t nUnknown, const fmi2ValueReference vKnown_ref[],
                                        size_t nKnown, const fmi2Real dvKnown[],
                                        fmi2Real dvUnknown[]) {
    (void)c, (void)vUnknown_ref, (void)nUnknown, (void)vKnown_ref, (void)nKnown;
    (void)dvKnown, (void)dvUnknown;
    return fmi2Error;
}

/* Model Exchange */

fmi2Status fmi2EnterEventMode(fmi2Component c) {
    (void)c;
    return fmi2OK;
}

fmi2Status fmi2NewDiscreteStates(fmi2Component c, fmi2EventInfo *eventInfo) {
    Lag *m = c;
    update_above(m);
    eventInfo->newDiscreteStatesNeeded = fmi2False;
    eventInfo->terminateSimulation = fmi2False;
    eventInfo->nominalsOfContinuousStatesChanged = fmi2False;
    eventInfo->valuesOfContinuousStatesChanged = fmi2False;
    eventInfo->nextEventTimeDefined = fmi2False;
    eventInfo->nextEventTime = 0.0;
    return fmi2OK;
}

fmi2Status fmi2EnterContinuousTimeMode(fmi2Component c) {
    (void)c;
    return fmi2OK;
}

fmi2Status fmi2CompletedIntegratorStep(fmi2Component c,
                                       fmi2Boolean noSetFMUStatePriorToCurrentPoint,
                                       fmi2Boolean *enterEventMode,
                                       fmi2Boolean *terminateSimulation) {
    (void)c, (void)noSetFMUStatePriorToCurrentPoint;
    *enterEventMode = fmi2False;
    *terminateSimulation = fmi2False;
    return fmi2OK;
}

fmi2Status fmi2SetTime(fmi2Component c, fmi2Real time) {
    ((Lag *)c)->v.time = time;
    return fmi2OK;
}

fmi2Status fmi2SetContinuousStates(fmi2Component c, const fmi2Real x[], size_t nx) {
    if (nx != 1) return fmi2Error;
    ((Lag *)c)->v.x = x[0];
    return fmi2OK;
}

fmi2Status fmi2GetDerivatives(fmi2Component c, fmi2Real derivatives[], size_t nx) {
    if (nx != 1) return fmi2Error;
    if (faulty(c)) {
        report(c, fmi2Error, "input u is out of the range this model accepts");
        return fmi2Error;
    }
    derivatives[0] = derivative(c);
    return fmi2OK;
}

fmi2Status fmi2GetEventIndicators(fmi2Component c, fmi2Real eventIndicators[], size_t ni) {
    Lag *m = c;
    if (ni != 1) return fmi2Error;
    eventIndicators[0] = m->v.x - m->v.level;
    return fmi2OK;
}

fmi2Status fmi2GetContinuousStates(fmi2Component c, fmi2Real x[], size_t nx) {
    if (nx != 1) return fmi2Error;
    x[0] = ((Lag *)c)->v.x;
    return fmi2OK;
}

fmi2Status fmi2GetNominalsOfContinuousStates(fmi2Component c, fmi2Real x_nominal[], size_t nx) {
    (void)c;
    if (nx != 1) return fmi2Error;
    x_nominal[0] = 1.0;
    return fmi2OK;
}

/* Co-Simulation */

fmi2Status fmi2SetRealInputDerivatives(fmi2Component c, const fmi2ValueReference vr[],
                                       size_t nvr, const fmi2Integer order[],
                                       const fmi2Real value[]) {
    (void)c, (void)vr, (void)nvr, (void)order, (void)value;
    return fmi2Error;
}

fmi2Status fmi2GetRealOutputDerivatives(fmi2Component c, const fmi2ValueReference vr[],
                                        size_t nvr, const fmi2Integer order[],
                                        fmi2Real value[]) {
    (void)c, (void)vr, (void)nvr, (void)order, (void)value;
    return fmi2Error;
}

fmi2Status fmi2DoStep(fmi2Component c, fmi2Real currentCommunicationPoint,
                      fmi2Real communicationStepSize,
                      fmi2Boolean noSetFMUStatePriorToCurrentPoint) {
    (void)noSetFMUStatePriorToCurrentPoint;
    return step(c, currentCommunicationPoint, communicationStepSize);
}

fmi2Status fmi2CancelStep(fmi2Component c) {
    (void)c;
    return fmi2Error;
}

fmi2Status fmi2GetStatus(fmi2Component c, const fmi2StatusKind s, fmi2Status *value) {
    (void)c, (void)s, (void)value;
    return fmi2Discard;
}

fmi2Status fmi2GetRealStatus(fmi2Component c, const fmi2StatusKind s, fmi2Real *value) {
    (void)c, (void)s, (void)value;
    return fmi2Discard;
}

fmi2Status fmi2GetIntegerStatus(fmi2Component c, const fmi2StatusKind s, fmi2Integer *value) {
    (void)c, (void)s, (void)value;
    return fmi2Discard;
}

fmi2Status fmi2GetBooleanStatus(fmi2Component c, const fmi2StatusKind s, fmi2Boolean *value) {
    (void)c, (void)s, (void)value;
    return fmi2Discard;
}

fmi2Status fmi2GetStringStatus(fmi2Component c, const fmi2StatusKind s, fmi2String *value) {
    (void)c, (void)s, (void)value;
    return fmi2Discard;
}
#endif
