/* The model registry and the thin public wrappers around a model's ops. */
#include "model_impl.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "flexcl/rbm.h"

/* src/eqprop.c: equilibrium propagation (no public header of its own). */
extern const flexcl_model_ops flexcl_eqprop_ops;

static const flexcl_model_ops *const registry[] = {
    &flexcl_rbm_ops,
    &flexcl_eqprop_ops,
    NULL,
};

void flexcl_model_settings_default(flexcl_model_settings *s)
{
    memset(s, 0, sizeof *s);
    strcpy(s->kind, "rbm");
    s->n_hidden = 16;
    s->visible_bias = 1;
    s->init_sigma = 0.01;
    strcpy(s->hidden, "auto");
    s->beta = 0.01;
    s->epsilon = 0.5;
    s->symmetric = 0;
    s->eval_steps = 100;
    s->eval_rows = 10000;
}

/* Kinds added at run time by flexcl_model_register (tests, plugins). */
enum { EXTRA_MAX = 16 };
static const flexcl_model_ops *extra[EXTRA_MAX];
static size_t n_extra;

const flexcl_model_ops *flexcl_model_lookup(const char *name)
{
    for (size_t i = 0; registry[i]; ++i)
        if (strcmp(registry[i]->name, name) == 0) return registry[i];
    for (size_t i = 0; i < n_extra; ++i)
        if (strcmp(extra[i]->name, name) == 0) return extra[i];
    return NULL;
}

flexcl_code flexcl_model_register(const flexcl_model_ops *ops)
{
    flexcl_code err = FLEXCL_OK;
    FLEXCL_CHECK(ops && ops->name && ops->name[0], FLEXCL_ERR_ARG,
                 "a registered model needs an ops table with a name");
    FLEXCL_CHECK(ops->create && ops->destroy && ops->n_params && ops->params && ops->n_blocks &&
                     ops->block && ops->init_params && ops->learnable && ops->chain_create &&
                     ops->chain_destroy && ops->chain_copy && ops->state_size &&
                     ops->state_get && ops->phase_begin && ops->chain_reset && ops->step &&
                     ops->stats_axpy,
                 FLEXCL_ERR_ARG, "model '%s' lacks a required operation", ops->name);
    FLEXCL_CHECK(flexcl_model_lookup(ops->name) == NULL, FLEXCL_ERR_ARG,
                 "model kind '%s' is already registered", ops->name);
    FLEXCL_CHECK(n_extra < EXTRA_MAX, FLEXCL_ERR_ARG,
                 "at most %d model kinds can be registered at run time", EXTRA_MAX);
    extra[n_extra++] = ops;
done:
    return err;
}

const flexcl_model_ops *const *flexcl_model_registry(void) { return registry; }

flexcl_code flexcl_model_create(const flexcl_model_settings *settings,
                                size_t dim, size_t n_classes,
                                const flexcl_stream *init, flexcl_model **out)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_model *m = NULL;
    const flexcl_model_ops *ops = flexcl_model_lookup(settings->kind);
    FLEXCL_CHECK(ops != NULL, FLEXCL_ERR_ARG, "unknown model kind '%s'",
                 settings->kind);
    FLEXCL_CHECK(dim > 0, FLEXCL_ERR_ARG, "model needs data of width > 0");
    FLEXCL_CHECK(!(ops->needs & FLEXCL_MODEL_NEEDS_LABELS) || n_classes >= 1, FLEXCL_ERR_ARG,
                 "model.kind = %s needs labelled rows with a label block "
                 "(data.label_block = 1)", ops->name);
    FLEXCL_ALLOC(m, 1);
    m->ops = ops;
    m->settings = *settings;
    FLEXCL_CALL(ops->create(settings, dim, n_classes, &m->impl));
    FLEXCL_ALLOC(m->learnable, ops->n_params(m->impl));
    ops->learnable(m->impl, m->learnable);
    FLEXCL_CALL(ops->init_params(m->impl, init));
    *out = m;
    m = NULL;
done:
    flexcl_model_destroy(&m);
    return err;
}

void flexcl_model_destroy(flexcl_model **m)
{
    if (!m || !*m) return;
    if ((*m)->impl) (*m)->ops->destroy((*m)->impl);
    free((*m)->learnable);
    free(*m);
    *m = NULL;
}

const char *flexcl_model_name(const flexcl_model *m) { return m->ops->name; }
size_t flexcl_model_n_params(const flexcl_model *m) { return m->ops->n_params(m->impl); }
double *flexcl_model_params(flexcl_model *m) { return m->ops->params(m->impl); }
const double *flexcl_model_params_const(const flexcl_model *m)
{
    return m->ops->params(m->impl);
}
size_t flexcl_model_n_blocks(const flexcl_model *m) { return m->ops->n_blocks(m->impl); }
flexcl_param_block flexcl_model_block(const flexcl_model *m, size_t i)
{
    return m->ops->block(m->impl, i);
}
const unsigned char *flexcl_model_learnable(const flexcl_model *m) { return m->learnable; }
const flexcl_model_settings *flexcl_model_settings_get(const flexcl_model *m)
{
    return &m->settings;
}

flexcl_code flexcl_chain_create(const flexcl_model *m, size_t batch,
                                flexcl_chain **out)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_chain *c = NULL;
    FLEXCL_CHECK(batch >= 1, FLEXCL_ERR_ARG, "chain batch must be >= 1, got %zu", batch);
    FLEXCL_ALLOC(c, 1);
    c->ops = m->ops;
    c->owner_impl = m->impl;
    c->batch = batch;
    FLEXCL_CALL(m->ops->chain_create(m->impl, batch, &c->impl));
    *out = c;
    c = NULL;
done:
    flexcl_chain_destroy(&c);
    return err;
}

void flexcl_chain_destroy(flexcl_chain **c)
{
    if (!c || !*c) return;
    if ((*c)->impl) (*c)->ops->chain_destroy((*c)->impl);
    free(*c);
    *c = NULL;
}

size_t flexcl_model_state_size(const flexcl_model *m)
{
    return m->ops->state_size(m->impl);
}

void flexcl_chain_state(const flexcl_model *m, const flexcl_chain *c, size_t b,
                        double *out)
{
    m->ops->state_get(m->impl, c->impl, b, out);
}

size_t flexcl_chain_batch(const flexcl_chain *c) { return c->batch; }

void flexcl_chain_copy(flexcl_chain *dst, const flexcl_chain *src)
{
    dst->ops->chain_copy(dst->owner_impl, dst->impl, src->impl);
}

flexcl_code flexcl_model_phase_begin(flexcl_model *m, flexcl_chain *c,
                                     flexcl_phase phase,
                                     const float *const *rows,
                                     const flexcl_stream *s, uint64_t step)
{
    return m->ops->phase_begin(m->impl, c->impl, phase, rows, s, step);
}

flexcl_code flexcl_model_chain_reset(flexcl_model *m, flexcl_chain *c,
                                     const float *const *rows)
{
    return m->ops->chain_reset(m->impl, c->impl, rows);
}

flexcl_code flexcl_model_step(flexcl_model *m, flexcl_chain *c,
                              flexcl_phase phase, const flexcl_stream *s,
                              uint64_t step)
{
    return m->ops->step(m->impl, c->impl, phase, s, step);
}

void flexcl_model_stats_axpy(const flexcl_model *m, const flexcl_chain *c,
                             flexcl_phase phase, double w, double *g)
{
    m->ops->stats_axpy(m->impl, c->impl, phase, w, g);
}

static flexcl_code unsupported(const flexcl_model *m, const char *what)
{
    return flexcl_error_set(FLEXCL_ERR_UNSUPPORTED, __FILE__, __LINE__, __func__,
                            "model '%s' has no %s", m->ops->name, what);
}

flexcl_code flexcl_model_nudge(flexcl_model *m, flexcl_chain *c, double level)
{
    if (!m->ops->nudge) return unsupported(m, "graded clamping (nudge)");
    if (!(level >= 0.0 && level <= 1.0))
        return flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, __func__,
                                "nudge level %g outside [0, 1]", level);
    return m->ops->nudge(m->impl, c->impl, level);
}

flexcl_code flexcl_chain_set_state(const flexcl_model *m, flexcl_chain *c, size_t b,
                                   const double *in)
{
    if (!m->ops->state_set) return unsupported(m, "chain state restore (state_set)");
    if (b >= c->batch)
        return flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, __func__,
                                "chain state %zu of a batch of %zu", b, c->batch);
    m->ops->state_set(m->impl, c->impl, b, in);
    return FLEXCL_OK;
}

flexcl_code flexcl_model_bind_rows(flexcl_model *m, flexcl_chain *c,
                                   const size_t *index, size_t n_rows)
{
    if (!m->ops->bind_rows) return FLEXCL_OK;
    return m->ops->bind_rows(m->impl, c->impl, index, n_rows);
}

size_t flexcl_model_memory_size(const flexcl_model *m)
{
    return m->ops->memory_size ? m->ops->memory_size(m->impl) : 0;
}

void flexcl_model_memory_get(const flexcl_model *m, double *out)
{
    if (m->ops->memory_get && flexcl_model_memory_size(m) > 0)
        m->ops->memory_get(m->impl, out);
}

flexcl_code flexcl_model_memory_set(flexcl_model *m, const double *in, size_t n)
{
    if (!m->ops->memory_set) {
        if (n == 0) return FLEXCL_OK;
        return unsupported(m, "model memory to restore (memory_set)");
    }
    if (n > 0 && !in)
        return flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, __func__,
                                "model memory of %zu values from a NULL buffer", n);
    return m->ops->memory_set(m->impl, in, n);
}

flexcl_code flexcl_model_equilibrium(flexcl_model *m, flexcl_chain *c,
                                     flexcl_phase phase,
                                     const float *const *rows,
                                     const flexcl_stream *s, uint64_t step)
{
    if (!m->ops->equilibrium) return unsupported(m, "exact equilibrium sampler");
    return m->ops->equilibrium(m->impl, c->impl, phase, rows, s, step);
}

flexcl_code flexcl_model_exact_gradient(flexcl_model *m, const flexcl_data *d,
                                        double *g)
{
    if (!m->ops->exact_gradient) return unsupported(m, "exact gradient");
    return m->ops->exact_gradient(m->impl, d, g);
}

flexcl_code flexcl_model_evaluate(flexcl_model *m, const flexcl_data *d,
                                  flexcl_metrics *out)
{
    if (!m->ops->evaluate) return unsupported(m, "metrics");
    return m->ops->evaluate(m->impl, d, out);
}

flexcl_code flexcl_widths_parse(const char *text, size_t *widths, size_t max, size_t *n)
{
    flexcl_code err = FLEXCL_OK;
    const char *p = text;
    *n = 0;
    while (*p == ' ' || *p == '\t') ++p;
    if (*p == '\0' || strcmp(p, "auto") == 0) goto done;
    for (;;) {
        char *end = NULL;
        while (*p == ' ' || *p == '\t') ++p;
        FLEXCL_CHECK(*p >= '0' && *p <= '9', FLEXCL_ERR_ARG,
                     "model.hidden: '%s' is not a comma-separated list of widths", text);
        unsigned long long v = strtoull(p, &end, 10);
        FLEXCL_CHECK(v >= 1 && v <= 100000, FLEXCL_ERR_ARG,
                     "model.hidden: width %llu in '%s' is outside [1, 100000]", v, text);
        FLEXCL_CHECK(*n < max, FLEXCL_ERR_ARG, "model.hidden: '%s' has more than %zu layers",
                     text, max);
        widths[(*n)++] = (size_t)v;
        p = end;
        while (*p == ' ' || *p == '\t') ++p;
        if (*p == '\0') break;
        FLEXCL_CHECK(*p == ',', FLEXCL_ERR_ARG,
                     "model.hidden: '%s' is not a comma-separated list of widths", text);
        ++p;
    }
done:
    return err;
}
