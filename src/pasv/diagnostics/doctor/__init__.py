"""`pasv doctor`: staged probes of an FTP server, each with a verdict and the fix."""

from pasv.diagnostics.doctor.report import Exit, Report, Stage
from pasv.diagnostics.doctor.runner import run_doctor
from pasv.diagnostics.doctor.target import DoctorTarget

__all__ = ["DoctorTarget", "Exit", "Report", "Stage", "run_doctor"]
