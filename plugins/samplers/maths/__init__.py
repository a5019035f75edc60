"""The maths shared by the solver samplers, one idea per module.

Every sampler in gdf works on one exact identity. Write σ = b/a = e^(−λ/2) and
η = λ/2 (the "λ" of DPM-Solver). Whatever the input scaler, y = x/a = x0 + σ·ε
follows the variance-exploding probability-flow ODE dy/dσ = ε̂ = (y − x̂0)/σ,
so a step from λ to λ′ depends on the path of (a, b) only through a′, b′, b′/b
and σ. Its exact solution in data-prediction form (Lu et al. 2022b,
"DPM-Solver++", eq. 9) is::

    x′ = (b′/b)·x + a′·∫_0^h e^(−(h−τ))·x̂0(η + τ) dτ,     h = η′ − η,

and in noise-prediction form (Zhang & Chen 2023, "DEIS"; the σ-ODE)::

    x′ = a′·x̂0 + b′·ε̂ + a′·∫_σ^σ′ (ε̂(s) − ε̂(σ)) ds.

The samplers differ in how they interpolate x̂0 or ε̂ between the levels where
the model was called and integrate the interpolant exactly:

* ``levels``: η, σ, (a, b) of a step or of a whole grid; the tolerance under
  which two levels are one (degenerate steps, repeated levels);
* ``lagrange``: Lagrange bases and quadrature weights, with inactive nodes;
* ``phi_moments``: moments of the exponential kernels (the φ-functions);
* ``interpolation``: the node variable (η, t = σ/(1 + σ), t²) and its moments;
* ``exponential``: the data-prediction exponential-integrator weights;
* ``adams``: Adams–Bashforth weights for ε̂ in σ and in log σ;
* ``combine``: Σ c_i·v_i over full-size tensors, one pass per term.
"""
