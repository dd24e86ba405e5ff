"""`recmv batch`: many jobs (videos or subject folders) through prepare → fit → extract → eval on Ray.

manifest.py reads and checks the job list, state.py keeps each job's progress in its output folder,
stages.py holds the work of each stage (plain functions, no Ray), and runner.py hands the stages to Ray
as tasks and follows them. Only runner.py and the command import Ray, and only when they run.
"""
