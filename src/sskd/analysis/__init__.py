"""Analyses of trained networks, beyond accuracy.

- :mod:`~sskd.analysis.cka`: linear CKA (Kornblith et al. 2019), direct and streamed.
- :mod:`~sskd.analysis.prediction_kl`: KL(teacher ‖ student) of the softened predictions.
- :mod:`~sskd.analysis.network_outputs`: a saved network's logits and pooled embeddings
  over a data-set split, batch by batch.
- :mod:`~sskd.analysis.similarity`, :mod:`~sskd.analysis.similarity_command`: the
  teacher–student similarity of SSKD Table 6 and the ``sskd similarity`` subcommand.
- :mod:`~sskd.analysis.tsne`, :mod:`~sskd.analysis.tsne_command`: the t-SNE figure of
  SSKD Fig. 3a and the ``sskd tsne`` subcommand.
- :mod:`~sskd.analysis.linear_probe`, :mod:`~sskd.analysis.probe_command`: the linear-probe
  transfer of HSSAKD §6.6 and the ``sskd probe`` subcommand.
- :mod:`~sskd.analysis.report`, :mod:`~sskd.analysis.report_markdown`,
  :mod:`~sskd.analysis.report_plots`, :mod:`~sskd.analysis.report_command`: an experiment
  folder's report (``sskd report``).

Nothing is imported here: each module loads its own dependencies.
"""
